// Measurements for bench/gpu/run.sh (issue 18, item 4), one per invocation, each printing one JSON
// line: run with the portable bundle's Node.js on a GPU machine (`BUNDLE/fisherflow --node
// BUNDLE/app/dist/bench/gpu/measure.js ...`) or from a checkout (`node dist/bench/gpu/measure.js`).
//
//   machine                                    GPU (nvidia-smi), CPU, Node, the WebGPU adapter Dawn gives
//   model DIR [--small]                        a BERT-base-shaped classifier, random weights (vocab 28,999);
//                                              --small: 2 layers, hidden 64 (GPU_BENCH_SMALL dry runs)
//   fisher DIR DATA --rows N --batch B --backend X [--warmup W]
//                                              the fim computation: W rows first (shaders compile), then N rows
//   train DIR DATA --rows N --batch B --backend X
//                                              the train stage's loop, 2 epochs over N rows: epoch 2 is warm
//   summarize OUTDIR                           results.md from the JSON files run.sh wrote
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';

const BERT_BASE = { vocab_size: 28999, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, num_labels: 2 };

const argv = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const print = (o: object): void => console.log(JSON.stringify(o));
const rss = (): number => process.resourceUsage().maxRSS * 1024;

async function machine(): Promise<void> {
  const smi = spawnSync('nvidia-smi', ['--query-gpu=index,name,driver_version,memory.total', '--format=csv,noheader'], { encoding: 'utf8' });
  const { initBackend } = await import('../../ml/bert/backend.js');
  let adapter: string | null = null;
  let adapterError: string | null = null;
  try { adapter = (await initBackend('webgpu')).adapter ?? null; } catch (e) { adapterError = (e as Error).message; }
  print({
    what: 'machine', gpus: smi.status === 0 ? smi.stdout.trim().split('\n') : [], cpu: `${cpus()[0]?.model} × ${cpus().length}`,
    memory_gib: +(totalmem() / 2 ** 30).toFixed(1), node: process.version, load_avg: loadavg()[0], adapter, adapter_error: adapterError,
    vk_driver_files: process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES ?? null,
  });
}

async function model(dir: string): Promise<void> {
  const { initBackend } = await import('../../ml/bert/backend.js');
  const { BertForSequenceClassification } = await import('../../ml/bert/model.js');
  await initBackend('wasm');
  const small = { ...BERT_BASE, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 256 };
  const m = BertForSequenceClassification.fromConfig(argv.includes('--small') ? small : BERT_BASE, 0);
  await m.save(dir);
  print({ what: 'model', dir, params: m.numParameters() });
  m.dispose();
}

async function rows(data: string, n: number) {
  const { readTokenizedJsonl } = await import('../../ml/bert/batch.js');
  const all = await readTokenizedJsonl(data);
  if (all.length < n) throw new Error(`${data} has ${all.length} rows, ${n} asked for`);
  return all.slice(0, n);
}

async function fisher(dir: string, data: string): Promise<void> {
  const n = Number(opt('rows', '200'));
  const warm = Number(opt('warmup', '16'));
  const batchSize = Number(opt('batch', '16'));
  const backend = opt('backend', 'webgpu') as 'webgpu' | 'wasm' | 'auto';
  const { computeFim } = await import('../../stages/fim/compute.js');
  const examples = (await rows(data, n)).map((row, index) => ({ index, row }));
  const run = (xs: typeof examples) => computeFim(xs, { modelDir: dir, backend, gpu: backend !== 'wasm', fisher: 'empirical', samples: 1, seed: 0, batchSize });
  const cold = await run(examples.slice(0, Math.min(warm, n)));
  const res = await run(examples);
  print({
    what: 'fisher', backend: res.info.backend, device: res.info.device, adapter: res.info.adapter ?? null, rows: n, batch: batchSize,
    mean_tokens: examples.reduce((s, e) => s + e.row.input_ids.length, 0) / n,
    examples_per_s: n / res.computeSeconds, seconds: res.computeSeconds, startup_s: res.startupSeconds,
    cold_rows: cold.examples, cold_examples_per_s: cold.examples / cold.computeSeconds, cold_startup_s: cold.startupSeconds,
    max_rss_bytes: rss(), load_avg: loadavg()[0],
  });
}

async function train(dir: string, data: string): Promise<void> {
  const n = Number(opt('rows', '512'));
  const batchSize = Number(opt('batch', '32'));
  const backend = opt('backend', 'webgpu') as 'webgpu' | 'wasm';
  const { initBackend } = await import('../../ml/bert/backend.js');
  const { BertForSequenceClassification } = await import('../../ml/bert/model.js');
  const { runTraining } = await import('../../stages/train/trainer.js');
  const info = await initBackend(backend, { gpu: backend === 'webgpu' });
  const train = await rows(data, n);
  const t0 = performance.now();
  const { model: m, metrics } = await runTraining({
    settings: { epochs: 2, batchSize, evalBatchSize: batchSize, learningRate: 2e-5, weightDecay: 0.01, maxGradNorm: 1, seed: 42, padId: 0, loggingSteps: 50 },
    train, evalSets: {}, workDir: mkdtempSync(join(tmpdir(), 'ff-gpu-train-')),
    createModel: () => BertForSequenceClassification.fromPretrained(dir), loadModel: (d) => BertForSequenceClassification.fromPretrained(d),
    log: () => {}, progress: () => {}, signal: new AbortController().signal,
  });
  m.dispose();
  print({
    what: 'train', backend: info.backend, device: info.device, adapter: info.adapter ?? null, rows: n, batch: batchSize,
    examples_per_s: metrics.epochs[1].examples_per_second, first_epoch_examples_per_s: metrics.epochs[0].examples_per_second,
    seconds: (performance.now() - t0) / 1000, loss: metrics.epochs.map((e) => e.train_loss), max_rss_bytes: rss(), load_avg: loadavg()[0],
  });
}

/** results.md: the figures of one run.sh run, for bench/README.md. */
function summarize(dir: string): void {
  const read = (f: string): Record<string, unknown> | null => {
    const p = join(dir, f);
    if (!existsSync(p)) return null;
    const line = readFileSync(p, 'utf8').trim().split('\n').filter((l) => l.startsWith('{')).pop();
    return line ? JSON.parse(line) : null;
  };
  const m = read('machine.json') ?? {};
  const params = read('model.json')?.params;
  const label = typeof params === 'number' ? `${params > 1e8 ? 'BERT-base' : 'small BERT'} (${(params / 1e6).toFixed(1)} M params)` : 'BERT';
  const fmt = (x: unknown, d = 2): string => (typeof x === 'number' ? x.toFixed(d) : '–');
  const out: string[] = [];
  out.push(`Machine: ${(m.gpus as string[] | undefined)?.join('; ') || 'no nvidia-smi'}; CPU ${m.cpu}; Node ${m.node}; WebGPU adapter: ${m.adapter ?? `none (${m.adapter_error})`}`, '');
  out.push('| measurement | backend | rows | batch | examples/s (warm) | first pass | peak RSS |', '|---|---|---|---|---|---|---|');
  for (const f of readdirSync(dir).filter((x) => /^(fisher|train)-.*\.json$/.test(x)).sort()) {
    const r = read(f);
    if (!r) { out.push(`| ${f} | failed, see ${f.replace('.json', '.log')} | | | | | |`); continue; }
    const first = r.what === 'fisher' ? `${fmt(r.cold_examples_per_s)} ex/s over ${r.cold_rows} rows (start-up ${fmt(r.startup_s, 1)} s)` : `${fmt(r.first_epoch_examples_per_s)} ex/s (epoch 1)`;
    out.push(`| ${label} ${r.what} | ${r.backend} | ${r.rows} | ${r.batch} | ${fmt(r.examples_per_s)} | ${first} | ${fmt((r.max_rss_bytes as number) / 2 ** 30)} GiB |`);
  }
  out.push('');
  for (const f of readdirSync(dir).filter((x) => /^demo-.*\.time$/.test(x)).sort()) out.push(`- ${f.replace(/\.time$/, '')}: ${readFileSync(join(dir, f), 'utf8').trimEnd()}`);
  console.log(out.join('\n'));
}

const [cmd, a, b] = argv;
if (cmd === 'machine') await machine();
else if (cmd === 'model') await model(a);
else if (cmd === 'fisher') await fisher(a, b);
else if (cmd === 'train') await train(a, b);
else if (cmd === 'summarize') summarize(a);
else {
  console.error('usage: measure.js machine | model DIR | fisher DIR DATA [--rows N --batch B --backend X --warmup W] | train DIR DATA [--rows N --batch B --backend X] | summarize OUTDIR');
  process.exit(2);
}
