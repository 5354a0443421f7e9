// Merge benchmark: three BERT-base-shaped checkpoints (vocab 28,999, 12 × 768, random weights from
// a fixed seed, written into a temporary folder) merged by the merge stage with each method, time
// and peak RSS against one model's size (target: peak < 2.5× the model); side by side with the
// upstream fuse_models in PyTorch (bench/merge_torch.py), which holds every model in memory.
//
//   node dist/bench/merge.js [--methods average,fisher,task_arithmetic] [--models 3] [--repeat 1] [--no-torch]
//
// Each merge runs in a child process so that its peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../src/stage/registry.js';
import { childRun as runChild } from './child.js';
import { parameterShapes, numel } from '../ml/bert/params.js';
import { resolveConfig } from '../ml/bert/config.js';
import { SafetensorsWriter } from '../ml/safetensors/format.js';

const CONFIG = resolveConfig({ vocab_size: 28999, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, num_labels: 2 });

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

/** A checkpoint folder (or, with `fisher`, a fim.safetensors) of random values from `seed`, written a chunk at a time. */
function generate(path: string, seed: number, fisher: boolean): void {
  const shapes = [...parameterShapes(CONFIG)];
  const file = fisher ? path : join(path, 'model.safetensors');
  if (!fisher) {
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, 'config.json'), JSON.stringify({ ...CONFIG, architectures: ['BertForSequenceClassification'], model_type: 'bert' }, null, 2));
  }
  const w = SafetensorsWriter.create(file, shapes.map(([name, shape]) => ({ name, shape, dtype: 'F32' as const })), fisher ? { fisherflow: 'fim' } : { format: 'pt' });
  let s = (seed * 2654435761) >>> 0 || 1;
  const chunk = new Float32Array(1 << 20);
  for (const [name, shape] of shapes) {
    let left = numel(shape);
    while (left > 0) {
      const part = chunk.subarray(0, Math.min(left, chunk.length));
      for (let i = 0; i < part.length; i++) {
        // xorshift32: uniform in (-0.05, 0.05) for weights; squares of it (≥ 0) for a Fisher.
        s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
        const u = (s / 4294967296 - 0.5) * 0.1;
        part[i] = fisher ? u * u : u;
      }
      w.write(name, part);
      left -= part.length;
    }
  }
  w.finish();
}

const childRun = (args: string[]) => runChild(fileURLToPath(import.meta.url), args);

async function child(): Promise<void> {
  const mode = process.argv[3];
  if (mode === 'generate') {
    generate(process.argv[4]!, Number(process.argv[5]), process.argv[6] === 'fisher');
    console.log(JSON.stringify({ ok: true }));
    return;
  }
  const [method, root, n] = [process.argv[4] as 'average' | 'fisher' | 'task_arithmetic', process.argv[5]!, Number(process.argv[6])];
  const { runMerge } = await import('../stages/merge/stage.js');
  const models = Array.from({ length: n }, (_, i) => join(root, `model-${i}`));
  const out = mkdtempSync(join(root, 'out-'));
  const ctx = {
    stage: 'merge', outDir: out, workDir: out, log: () => {}, progress: () => {}, signal: new AbortController().signal, device: { gpus: [] },
    inputs: {
      method, models,
      ...(method === 'fisher' ? { fishers: models.map((_, i) => join(root, `fim-${i}.safetensors`)) } : {}),
      ...(method === 'task_arithmetic' ? { base: join(root, 'base'), scaling: 0.5 } : {}),
    },
  };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await runMerge(ctx);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  rmSync(out, { recursive: true, force: true });
  console.log(JSON.stringify({ seconds, cpu_s: (cpu.user + cpu.system) / 1e6, max_rss_bytes: process.resourceUsage().maxRSS * 1024, load_avg: loadavg()[0] }));
}

async function main(): Promise<void> {
  const methods = arg('methods', 'average,fisher,task_arithmetic').split(',');
  const n = Number(arg('models', '3'));
  const repeat = Math.max(1, Number(arg('repeat', '1')));
  const torch = !process.argv.includes('--no-torch');
  const root = mkdtempSync(join(tmpdir(), 'ff-bench-merge-'));
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) childRun(['--child', 'generate', join(root, `model-${i}`), String(i + 1)]);
    if (methods.includes('fisher')) for (let i = 0; i < n; i++) childRun(['--child', 'generate', join(root, `fim-${i}.safetensors`), String(100 + i), 'fisher']);
    if (methods.includes('task_arithmetic')) childRun(['--child', 'generate', join(root, 'base'), '99']);
    const modelBytes = statSync(join(root, 'model-0', 'model.safetensors')).size;
    const gb = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
    console.log(`machine: ${cpus()[0]?.model} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}`);
    console.log(`${n} BERT-base-shaped checkpoints (${(modelBytes / 1e6).toFixed(0)} MB model.safetensors each) generated in ${((performance.now() - t0) / 1000).toFixed(1)} s; load average at start ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
    console.log('| method | models | time | CPU | peak RSS | × one model | load avg |');
    console.log('|---|---|---|---|---|---|---|');
    for (const method of methods) {
      for (let r = 0; r < repeat; r++) {
        const res = childRun(['--child', 'merge', method, root, String(n)]) as { seconds: number; cpu_s: number; max_rss_bytes: number; load_avg: number };
        console.log(`| fisherflow ${method} | ${n} | ${res.seconds.toFixed(1)} s | ${res.cpu_s.toFixed(1)} s | ${gb(res.max_rss_bytes)} | **${(res.max_rss_bytes / modelBytes).toFixed(2)}×** | ${res.load_avg.toFixed(1)} |`);
      }
    }
    if (torch) {
      for (let r = 0; r < repeat; r++) {
        const p = spawnSync('/usr/bin/python3', [join(PACKAGE_ROOT, 'bench', 'merge_torch.py'), ...Array.from({ length: n }, (_, i) => join(root, `model-${i}`, 'model.safetensors'))], { encoding: 'utf8' });
        if (p.status !== 0) { console.error(`PyTorch run failed: ${p.stderr.slice(-800)}`); break; }
        const t = JSON.parse(p.stdout.trim().split('\n').pop()!) as { seconds: number; load_seconds: number; max_rss_bytes: number; load_avg: number };
        console.log(`| PyTorch fuse_models (load ${t.load_seconds.toFixed(1)} s + fuse) | ${n} | ${t.seconds.toFixed(1)} s | – | ${gb(t.max_rss_bytes)} | ${(t.max_rss_bytes / modelBytes).toFixed(2)}× | ${t.load_avg.toFixed(1)} |`);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child();
else await main();
