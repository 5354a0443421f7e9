#!/usr/bin/python3
"""The upstream merge in PyTorch, for bench/merge.ts: load each model.safetensors into a state dict
(a tensor at a time, no extra copy), then FuseToForget's fuse_models (fusion/interpolate.py,
mean='arithmetic', uniform coefficients) on the state dicts; prints time and peak RSS as JSON.

  /usr/bin/python3 bench/merge_torch.py A/model.safetensors B/model.safetensors C/model.safetensors
"""
import json, os, resource, struct, sys, time
import numpy as np
import torch


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    sd = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        a = np.fromfile(path, dtype=np.float32, count=(e - b) // 4, offset=8 + n + b)
        sd[name] = torch.from_numpy(a).reshape(h["shape"])
    return sd


def fuse_models(state_dicts, coeffs=None):
    n = len(state_dicts)
    coeffs = [1.0 / n for _ in range(n)] if coeffs is None else coeffs
    fused = {}
    for sd, coeff in zip(state_dicts, coeffs):
        for name, weight in sd.items():
            if name not in fused:
                fused[name] = coeff * weight
            else:
                fused[name] += coeff * weight
    return fused


def main():
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    sds = [load(p) for p in sys.argv[1:]]
    t1 = time.perf_counter()
    fused = fuse_models(sds)
    t2 = time.perf_counter()
    assert len(fused) == len(sds[0])
    print(json.dumps({"seconds": t2 - t0, "load_seconds": t1 - t0, "fuse_seconds": t2 - t1,
                      "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "load_avg": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
