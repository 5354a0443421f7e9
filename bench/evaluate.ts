// Evaluation throughput: the evaluate stage on the demo's model shape (2 × 64) and on a
// BERT-base-shaped model (12 × 768, vocab 28,999), random weights, over SST-2-like sequences,
// side by side with the same evaluation in PyTorch (bench/evaluate_torch.py: the same batches,
// torch.no_grad) on the same machine.
//
//   node dist/bench/evaluate.js [--models demo,base] [--examples demo=872,base=256] [--batch 32] [--repeat 1] [--no-torch]
//
// Each measurement runs in a child process so that its peak RSS is its own; the examples/s are
// the evaluation loop's (model loading and backend start-up reported apart).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../src/stage/registry.js';
import { childRun as runChild, saveRandomModel } from './child.js';
import { makeData } from './sst2-like-data.js';

const MODELS = {
  demo: { vocab_size: 28999, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 256, max_position_embeddings: 128, num_labels: 2 },
  base: { vocab_size: 28999, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, num_labels: 2 },
} as const;
type ModelName = keyof typeof MODELS;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

const childRun = (args: string[]) => runChild(fileURLToPath(import.meta.url), args);

async function child(): Promise<void> {
  const mode = process.argv[3];
  if (mode === 'prepare') {
    await saveRandomModel(process.argv[4]!, MODELS[process.argv[5] as ModelName]);
    return;
  }
  const [dir, data, n, batch] = process.argv.slice(4);
  const { default: stage } = await import('../stages/evaluate/stage.js');
  const out = mkdtempSync(join(tmpdir(), 'ff-bench-eval-out-'));
  const t0 = performance.now();
  await stage.run({
    stage: 'evaluate', outDir: out, workDir: out, log: () => {}, progress: () => {}, signal: new AbortController().signal, device: { gpus: [] },
    inputs: { model: dir!, data: { dev: data! }, max_examples: Number(n), batch_size: Number(batch) },
  });
  const total = (performance.now() - t0) / 1000;
  const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  rmSync(out, { recursive: true, force: true });
  console.log(JSON.stringify({
    examples: m.sets.dev.examples, examples_per_s: m.timing.examples_per_second, seconds: m.timing.seconds, startup_s: total - m.timing.seconds,
    max_rss_bytes: process.resourceUsage().maxRSS * 1024, load_avg: loadavg()[0], device: m.device,
  }));
}

async function main(): Promise<void> {
  const models = arg('models', 'demo,base').split(',') as ModelName[];
  const counts = Object.fromEntries(arg('examples', 'demo=872,base=256').split(',').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
  const batch = arg('batch', '32');
  const repeat = Math.max(1, Number(arg('repeat', '1')));
  const torch = !process.argv.includes('--no-torch') && existsSync('/usr/bin/python3');
  const root = mkdtempSync(join(tmpdir(), 'ff-bench-eval-'));
  try {
    const n = Math.max(...(Object.values(counts) as number[]));
    const data = join(root, 'data.jsonl');
    const meanLen = makeData(data, n);
    console.log(`machine: ${cpus()[0]?.model} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}`);
    console.log(`SST-2-like examples (mean length ${meanLen.toFixed(1)} tokens), batch ${batch}, rows sorted by length, dynamic padding; load average at start ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
    console.log('| model | params | examples | fisherflow ex/s | start-up | peak RSS | PyTorch ex/s | PyTorch peak RSS | ratio | load avg |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    const devices = new Set<string>();
    const gb = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
    for (const m of models) {
      const dir = join(root, m);
      mkdirSync(dir, { recursive: true });
      const { params } = childRun(['--child', 'prepare', dir, m]) as { params: number };
      const k = counts[m] ?? n;
      type Run = { examples_per_s: number; startup_s: number; max_rss_bytes: number; load_avg: number; device: string };
      const ours: Run[] = [];
      const theirs: Array<{ examples_per_s: number; max_rss_bytes: number }> = [];
      // Alternate the two sides, so that a change in the machine's load hits both.
      for (let r = 0; r < repeat; r++) {
        ours.push(childRun(['--child', 'run', dir, data, String(k), batch]) as Run);
        if (torch) {
          const p = spawnSync('/usr/bin/python3', [join(PACKAGE_ROOT, 'bench', 'evaluate_torch.py'), dir, data, String(k), batch, '2'], { encoding: 'utf8' });
          if (p.status === 0) theirs.push(JSON.parse(p.stdout.trim().split('\n').pop()!));
          else console.error(`PyTorch run failed: ${p.stderr.slice(-500)}`);
        }
      }
      const best = <T extends { examples_per_s: number }>(xs: T[]): T | undefined => xs.reduce<T | undefined>((a, b) => (!a || b.examples_per_s > a.examples_per_s ? b : a), undefined);
      const spread = (xs: Array<{ examples_per_s: number }>) => (xs.length > 1 ? ` (${xs.map((x) => x.examples_per_s.toFixed(1)).join('/')})` : '');
      const o = best(ours)!;
      const t = best(theirs);
      devices.add(o.device);
      console.log(`| ${m} | ${(params / 1e6).toFixed(1)} M | ${k} | ${o.examples_per_s.toFixed(1)}${spread(ours)} | ${o.startup_s.toFixed(1)} s | ${gb(Math.max(...ours.map((x) => x.max_rss_bytes)))} | ${t ? t.examples_per_s.toFixed(1) + spread(theirs) : '–'} | ${t ? gb(Math.max(...theirs.map((x) => x.max_rss_bytes))) : '–'} | ${t ? `${(o.examples_per_s / t.examples_per_s).toFixed(2)}×` : '–'} | ${o.load_avg.toFixed(1)} |`);
    }
    console.log('');
    for (const d of devices) console.log(`- fisherflow: ${d}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child();
else await main();
