{
  "targets": [
    {
      "target_name": "fisherflow_blas",
      "sources": ["blas.c"],
      "cflags": ["-O3", "-march=x86-64-v2", "-std=gnu11"],
      "libraries": ["-ldl", "-lpthread"],
      "conditions": [
        ["target_arch!='x64'", { "cflags!": ["-march=x86-64-v2"] }]
      ]
    }
  ]
}
