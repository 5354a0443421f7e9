{
  "targets": [
    {
      "target_name": "fisherflow_blas",
      "sources": ["blas.c"],
      "cflags": ["-O3", "-std=gnu11"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-std=gnu11"] },
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
