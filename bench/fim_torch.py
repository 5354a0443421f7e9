#!/usr/bin/python3
"""The seed notebook's calc_fim loop in PyTorch, for bench/fim.ts (Debian python3-torch, CPU).

usage: /usr/bin/python3 bench/fim_torch.py CHECKPOINT_DIR DATA_JSONL N_EXAMPLES [THREADS]
Prints one JSON line: examples, seconds, examples_per_s, max_rss_bytes, torch version/threads.
The model is the standalone HF-mirroring BertForSequenceClassification of
test/fixtures/model/make_fixtures.py, loaded from the checkpoint's model.safetensors.
"""
import json, os, resource, struct, sys, time
import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "fixtures", "model"))
from make_fixtures import BertForSequenceClassification  # noqa: E402


def read_safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(b[8 + n + s:8 + n + e], dtype=np.float32).copy()).reshape(v["shape"])
    return out


def main():
    ckpt, data, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if len(sys.argv) > 4:
        torch.set_num_threads(int(sys.argv[4]))
    cfg = json.load(open(os.path.join(ckpt, "config.json")))
    model = BertForSequenceClassification(cfg)
    model.load_state_dict(read_safetensors(os.path.join(ckpt, "model.safetensors")))
    model.eval()  # from_pretrained leaves the model in eval mode
    rows = [json.loads(l) for l in open(data)][:n]

    # calc_fim of the seed, batch_size 1: per example zero_grad, backward, square every gradient.
    def calc_fim(rows):
        fim = {}
        for r in rows:
            ids = torch.tensor([r["input_ids"]])
            tt = torch.tensor([r.get("token_type_ids", [0] * len(r["input_ids"]))])
            am = torch.tensor([r.get("attention_mask", [1] * len(r["input_ids"]))])
            model.zero_grad()
            loss = F.cross_entropy(model(ids, tt, am), torch.tensor([r["labels"]]))
            torch.autograd.backward(loss, retain_graph=True)
            for name, param in model.named_parameters():
                if param.requires_grad:
                    if name not in fim:
                        fim[name] = torch.zeros(param.grad.shape)
                    fim[name] += (param.grad * param.grad).detach().cpu()
        for name in fim:
            fim[name] = fim[name] / len(rows)
        return torch.hstack([x.view(-1) for x in fim.values()])

    calc_fim(rows[:1])  # warm-up
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.time()
    calc_fim(rows)
    dt = time.time() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(json.dumps({"examples": len(rows), "seconds": dt, "examples_per_s": len(rows) / dt, "cpu_s_per_example": cpu / len(rows),
                      "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
