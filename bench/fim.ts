// Fisher throughput benchmark: the fim computation on (a) a tiny BERT and (b) a BERT-base-shaped
// model (random weights, vocab 28,999) over SST-2-like sequences, side by side with the seed's
// calc_fim loop in PyTorch (bench/fim_torch.py) on the same machine.
//
//   npx tsx bench/fim.ts [--models tiny,base] [--examples tiny=200,base=64] [--paths blas,wasm]
//                        [--workers N] [--batch 4] [--repeat 3] [--no-torch]
// Paths: `blas` is the default configuration (wasm + the native BLAS addon, one model, BLAS
// threads on every core); `wasm` is tfjs-backend-wasm alone (FISHERFLOW_BLAS=none: two worker
// threads, one model copy each). --workers overrides the stage's default for both.
// On a machine shared with other work, --repeat R alternates the two sides R times and reports
// the best run of each (the least disturbed one), with the spread.
//   (or from the build: node dist/bench/fim.js ...)
//
// Each measurement runs in a child process so that its peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir, cpus, totalmem, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../src/stage/registry.js';
import { makeData } from './sst2-like-data.js';
import { childRun as runChild, saveRandomModel } from './child.js';

const childRun = (args: string[], env?: NodeJS.ProcessEnv) => runChild(fileURLToPath(import.meta.url), args, env);

const MODELS = {
  tiny: { vocab_size: 28999, hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512, num_labels: 2 },
  base: { vocab_size: 28999, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, num_labels: 2 },
} as const;
type ModelName = keyof typeof MODELS;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

async function child(): Promise<void> {
  const mode = process.argv[3];
  if (mode === 'prepare') {
    await saveRandomModel(process.argv[4], MODELS[process.argv[5] as ModelName]);
    return;
  }
  const [dir, data, n, workers, batch] = process.argv.slice(4);
  const { readTokenizedJsonl } = await import('../ml/bert/batch.js');
  const { computeFim } = await import('../stages/fim/compute.js');
  const rows = (await readTokenizedJsonl(data)).slice(0, Number(n));
  const examples = rows.map((row, index) => ({ index, row }));
  const opts = { modelDir: dir, backend: 'wasm' as const, fisher: 'empirical' as const, samples: 1, seed: 0, batchSize: Number(batch), workers: workers === 'default' ? undefined : Number(workers) };
  const t0 = performance.now();
  const res = await computeFim(examples, opts);
  const secs = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ examples: res.examples, seconds: secs, startup_s: res.startupSeconds, examples_per_s: res.examples / res.computeSeconds, cpu_s_per_example: res.computeCpuSeconds / res.examples, load_avg: loadavg()[0], max_rss_bytes: process.resourceUsage().maxRSS * 1024, device: res.info.device, blas: res.info.blas, workers: res.workers }));
}

async function main(): Promise<void> {
  const models = arg('models', 'tiny,base').split(',') as ModelName[];
  // Per model: enough examples that start-up effects (first kernels, worker start) do not dominate.
  const counts = Object.fromEntries(arg('examples', 'tiny=200,base=64').split(',').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
  const n = Math.max(...Object.values(counts) as number[]);
  const workers = arg('workers', 'default');
  const paths = arg('paths', 'blas,wasm').split(',') as Array<'blas' | 'wasm'>;
  const batch = arg('batch', '4');
  const torch = !process.argv.includes('--no-torch');
  const repeat = Math.max(1, Number(arg('repeat', '1')));
  const root = mkdtempSync(join(tmpdir(), 'ff-bench-fim-'));
  const data = join(root, 'data.jsonl');
  const meanLen = makeData(data, n);
  console.log(`machine: ${cpus()[0]?.model} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}`);
  console.log(`SST-2-like examples (mean length ${meanLen.toFixed(1)} tokens over ${n}); fisher empirical; paths ${paths.join(', ')}; workers ${workers}, batch ${batch}; load average at start ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
  console.log('| model | params | examples | path | fisherflow ex/s | CPU s/example | startup | peak RSS | PyTorch calc_fim ex/s | PyTorch CPU s/example | PyTorch peak RSS | ratio (ex/s) | ratio (CPU) | load avg |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const devices = new Set<string>();
  for (const m of models) {
    const dir = join(root, m);
    mkdirSync(dir, { recursive: true });
    const { params } = childRun(['--child', 'prepare', dir, m]) as { params: number };
    const k = counts[m] ?? n;
    type Run = { examples_per_s: number; max_rss_bytes: number; startup_s: number; cpu_s_per_example: number; load_avg: number; device: string; workers: number };
    const oursRuns = new Map(paths.map((p) => [p, [] as Run[]]));
    const theirRuns: Array<{ examples_per_s: number; max_rss_bytes: number; cpu_s_per_example: number }> = [];
    for (let r = 0; r < repeat; r++) {
      for (const p of paths) {
        const env = p === 'wasm' ? { ...process.env, FISHERFLOW_BLAS: 'none' } : process.env;
        oursRuns.get(p)!.push(childRun(['--child', 'run', dir, data, String(k), workers, batch], env) as Run);
      }
      if (torch && existsSync('/usr/bin/python3')) {
        const p = spawnSync('/usr/bin/python3', [join(PACKAGE_ROOT, 'bench', 'fim_torch.py'), dir, data, String(k)], { encoding: 'utf8' });
        if (p.status === 0) theirRuns.push(JSON.parse(p.stdout.trim().split('\n').pop()!));
        else console.error(`PyTorch run failed: ${p.stderr.slice(-500)}`);
      }
    }
    const best = <T extends { examples_per_s: number }>(xs: T[]): T | null => (xs.length ? xs.reduce((a, b) => (b.examples_per_s > a.examples_per_s ? b : a)) : null);
    const spread = (xs: Array<{ examples_per_s: number }>) => (xs.length > 1 ? ` (${xs.map((x) => x.examples_per_s.toFixed(2)).join('/')})` : '');
    const theirs = best(theirRuns);
    if (theirs) theirs.max_rss_bytes = Math.max(...theirRuns.map((x) => x.max_rss_bytes));
    const gb = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
    const modelBytes = params * 4;
    const t = theirs;
    for (const p of paths) {
      const runs = oursRuns.get(p)!;
      const ours = best(runs)!;
      ours.max_rss_bytes = Math.max(...runs.map((x) => x.max_rss_bytes));
      devices.add(`${p}: ${ours.device}; ${ours.workers} worker thread(s)`);
      const label = p === 'blas' ? 'wasm + native BLAS' : 'wasm alone';
      console.log(`| ${m} | ${(params / 1e6).toFixed(1)} M (${gb(modelBytes)}) | ${k} | ${label} | ${ours.examples_per_s.toFixed(2)}${spread(runs)} | ${ours.cpu_s_per_example.toFixed(3)} | ${ours.startup_s.toFixed(1)} s | ${gb(ours.max_rss_bytes)} (${(ours.max_rss_bytes / modelBytes).toFixed(1)}× model) | ${t ? t.examples_per_s.toFixed(2) + spread(theirRuns) : '–'} | ${t ? t.cpu_s_per_example.toFixed(3) : '–'} | ${t ? gb(t.max_rss_bytes) : '–'} | ${t ? `${(ours.examples_per_s / t.examples_per_s).toFixed(2)}×` : '–'} | ${t ? `${(t.cpu_s_per_example / ours.cpu_s_per_example).toFixed(2)}×` : '–'} | ${ours.load_avg.toFixed(1)} |`);
    }
  }
  console.log('');
  for (const d of devices) console.log(`- ${d}`);
  rmSync(root, { recursive: true, force: true });
}

if (process.argv[2] === '--child') await child();
else await main();
