#!/usr/bin/python3
"""The training step of HF's Trainer in PyTorch, for bench/train.ts (Debian python3-torch, CPU).

usage: /usr/bin/python3 bench/train_torch.py JOB.json
JOB.json (written by bench/train.ts): model_dir (config.json + model.safetensors, the same initial
weights the fisherflow side starts from), data (tokenized jsonl), batches (row indices of each
step, the order fisherflow's trainer uses), lr, weight_decay, max_grad_norm, warmup_steps,
threads. Each step is HF Trainer's with optim "adamw_torch" and dropout 0: dynamic padding to the
batch's longest row, forward, cross-entropy, backward, clip_grad_norm_, torch.optim.AdamW (decay
grouped as HF: no decay for biases and LayerNorm), get_linear_schedule_with_warmup.
Prints one JSON line: steps, examples and seconds after the first (warm-up) step, examples_per_s,
CPU seconds, the loss of every step, peak RSS, torch version and threads.
"""
import json, os, resource, sys, time
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "fixtures"))
from torch_bert import BertForSequenceClassification, pad_batch  # noqa: E402
sys.path.insert(0, HERE)
from fim_torch import read_safetensors  # noqa: E402


def main():
    job = json.load(open(sys.argv[1]))
    torch.set_num_threads(int(job["threads"]))
    cfg = json.load(open(os.path.join(job["model_dir"], "config.json")))
    model = BertForSequenceClassification(cfg)
    model.load_state_dict(read_safetensors(os.path.join(job["model_dir"], "model.safetensors")))
    model.train()  # the mirror has no dropout: the same as HF with dropout 0
    rows = [json.loads(l) for l in open(job["data"])]
    batches = job["batches"]

    no_decay = lambda n: "bias" in n or "LayerNorm" in n
    groups = [{"params": [p for n, p in model.named_parameters() if not no_decay(n)], "weight_decay": job["weight_decay"]},
              {"params": [p for n, p in model.named_parameters() if no_decay(n)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=job["lr"], betas=(0.9, 0.999), eps=1e-8)
    total, warmup = len(batches), job["warmup_steps"]
    lam = lambda s: s / max(1, warmup) if s < warmup else max(0.0, (total - s) / max(1, total - warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lam)

    losses = []
    t0 = r0 = None
    for k, idx in enumerate(batches):
        if k == 1:  # the first step is warm-up (allocator, thread pool), as on the fisherflow side
            t0, r0 = time.time(), resource.getrusage(resource.RUSAGE_SELF)
        ids, tt, am, labels = pad_batch([rows[i] for i in idx])
        opt.zero_grad()  # set_to_none=False in torch 1.13, as HF Trainer's model.zero_grad()
        loss = F.cross_entropy(model(ids, tt, am), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), job["max_grad_norm"])
        opt.step()
        sched.step()
        losses.append(float(loss))
    dt = time.time() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    n = sum(len(b) for b in batches[1:])
    print(json.dumps({"steps": len(batches) - 1, "examples": n, "seconds": dt, "examples_per_s": n / dt,
                      "cpu_seconds": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), "losses": losses,
                      "max_rss_bytes": r1.ru_maxrss * 1024, "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
