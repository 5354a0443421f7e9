#!/usr/bin/python3
"""Evaluation in PyTorch, for bench/evaluate.ts (Debian python3-torch, CPU): the HF-mirroring
BertForSequenceClassification of test/fixtures/torch_bert.py in eval mode under torch.no_grad,
the same batches as fisherflow's evaluate (rows sorted by length, dynamic padding), accuracy and
mean cross-entropy. Prints one JSON line: examples, seconds, examples_per_s, max_rss_bytes.

usage: /usr/bin/python3 bench/evaluate_torch.py CHECKPOINT_DIR DATA_JSONL N_EXAMPLES BATCH [THREADS]
"""
import json, os, resource, sys, time
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "fixtures"))
from torch_bert import BertForSequenceClassification, read_safetensors, pad_batch  # noqa: E402


def main():
    ckpt, data, n, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(int(sys.argv[5]) if len(sys.argv) > 5 else 2)
    cfg = json.load(open(os.path.join(ckpt, "config.json")))
    model = BertForSequenceClassification(cfg)
    model.load_state_dict(read_safetensors(os.path.join(ckpt, "model.safetensors"))[0])
    model.eval()
    rows = [json.loads(l) for l in open(data)][:n]
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i]["input_ids"]), i))
    correct, loss = 0, 0.0
    t0 = time.perf_counter()
    with torch.no_grad():
        for b in range(0, len(order), batch):
            ids, tt, am, labels = pad_batch([rows[i] for i in order[b:b + batch]])
            logits = model(ids, tt, am)
            loss += float(F.cross_entropy(logits, labels, reduction="sum"))
            correct += int((logits.argmax(-1) == labels).sum())
    secs = time.perf_counter() - t0
    print(json.dumps({"examples": len(rows), "seconds": secs, "examples_per_s": len(rows) / secs, "accuracy": correct / len(rows), "loss": loss / len(rows),
                      "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
