{
  "targets": [
    {
      "target_name": "fisherflow_blas",
      "sources": ["blas.c"],
      "cflags": ["-O3", "-std=gnu11", "-fno-math-errno"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-std=gnu11", "-fno-math-errno"] },
      "libraries": ["-ldl", "-lpthread", "-lm"]
    }
  ]
}
