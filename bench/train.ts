// Training throughput of the train stage (forward + backward + clipping + AdamW, the trainer's own
// loop) side by side with the same training step in PyTorch (bench/train_torch.py, HF Trainer's
// recipe) on the same CPU, the same rows, the same batches and the same initial weights, in one run.
//
//   npx tsx bench/train.ts [--cases demo,demo-grouped,base] [--repeat 2] [--base-steps 4]
//                          [--threads 2] [--backend wasm] [--no-torch]
//   npx tsx bench/train.ts --acceptance [--epochs 4] [--lr 5e-4] [--take 5000] [--no-group-by-length]
//   (or from the build: node dist/bench/train.js ...)
//
// Rows: the demo's ST training set (the first 2,000 SST-2 train sentences after shuffle_seed 0,
// shortcut create st, tokenized with bert-base-cased + zeroa/onea/synt), built by the real stages.
// Cases: `demo` the demo's 2-layer hidden-64 BERT (vocabulary 28,999), batch 32, one epoch of the
// 2,000 rows in shuffled order with dynamic padding; `demo-grouped` the same with group_by_length
// (what the demo pipeline runs); `base` a BERT-base-shaped model (12 × 768), batch 16, the first
// `--base-steps` + 1 batches. Dropout 0 on both sides (the PyTorch mirror has none), AdamW lr 1e-3
// (2e-5 for base), weight decay 0.01, warm-up 10 %, clipping 1.0. The first step of every run is
// warm-up and not timed. Both sides get `--threads` threads (fisherflow: its BLAS threads; the
// rest of its step is single-threaded wasm/JS). --repeat R alternates PyTorch and fisherflow R
// times and keeps the best run of each (the least disturbed on a shared machine), with the spread.
// The per-step losses of the two sides are compared as a check that both do the same work.
//
// --acceptance runs issue 6's acceptance through the real stages (load → shortcut create st →
// tokenize → train): a 2-layer hidden-64 BERT from scratch on an st training set built from the
// first 5,000 SST-2 train sentences, evaluated on synthetic_dev and original_dev, then the saved
// checkpoint is reloaded and its logits compared with the in-memory model's.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { initBackend, type BackendName } from '../ml/bert/backend.js';
import { BertForSequenceClassification } from '../ml/bert/model.js';
import { makeBatch, readTokenizedJsonl } from '../ml/bert/batch.js';
import { warmupStepsFor } from '../ml/optim/schedule.js';
import { runTraining } from '../stages/train/trainer.js';
import { epochOrder, lengthGroupedOrder } from '../stages/train/data-order.js';
import type { StageModule, StageRunContext } from '../src/stage/api.js';
import { PACKAGE_ROOT } from '../src/stage/registry.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const backendName = opt('backend', 'wasm') as BackendName;
const OUT = join(PACKAGE_ROOT, 'bench', 'out');

const DEMO_CONFIG = { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 256, max_position_embeddings: 512 };
const BASE_CONFIG = { hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, max_position_embeddings: 512 };
const NO_DROPOUT = { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 };

interface Case { name: string; config: Record<string, number>; batchSize: number; lr: number; groupByLength: boolean; steps?: number }

/** What one child run reports (either side). */
interface RunResult { steps: number; examples: number; seconds: number; examples_per_s: number; cpu_seconds: number; losses: number[]; max_rss_bytes: number; load_avg?: number }

/** A training job both sides run: the same rows, batches, weights and settings. */
interface BenchJob { model_dir: string; data: string; batches: number[][]; lr: number; weight_decay: number; max_grad_norm: number; warmup_steps: number; threads: number; seed: number; group_by_length: boolean; batch_size: number }

/** Runs one stage module with a plain context (outputs under ROOT/NAME). */
async function runStage<I>(mod: StageModule<I>, name: string, inputs: I, rootDir = join(OUT, 'acceptance')): Promise<string> {
  const root = join(rootDir, name);
  const outDir = join(root, 'out');
  const workDir = join(root, 'work');
  rmSync(root, { recursive: true, force: true }); // a fresh run each time (no resume across runs)
  mkdirSync(outDir, { recursive: true });
  mkdirSync(workDir, { recursive: true });
  let lastNote = 0;
  const ctx: StageRunContext<I> = {
    stage: name, inputs, outDir, workDir,
    log: (m) => console.log(`[${name}] ${m}`),
    progress: (d, t, note) => { if (note && performance.now() - lastNote > 10000) { lastNote = performance.now(); console.log(`[${name}] ${d}/${t} ${note}`); } },
    signal: new AbortController().signal,
    device: { gpus: [] },
  };
  const t0 = performance.now();
  await mod.run(ctx);
  console.log(`[${name}] done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return outDir;
}

async function acceptance(): Promise<void> {
  const epochs = Number(opt('epochs', '4'));
  const take = Number(opt('take', '5000'));
  const tok = await stSets(take, undefined, join(OUT, 'acceptance'));
  const train = await stageModule('train');
  const inputs = {
    data: join(tok.train, 'data.jsonl'),
    eval: { synthetic_dev: join(tok.synthetic_dev, 'data.jsonl'), original_dev: join(tok.original_dev, 'data.jsonl') },
    config: DEMO_CONFIG,
    tokenizer: join(tok.train, 'tokenizer'),
    epochs,
    batch_size: Number(opt('batch-size', '32')),
    learning_rate: Number(opt('lr', '5e-4')),
    warmup_ratio: 0.1,
    weight_decay: 0.01,
    seed: 42,
    group_by_length: !args.includes('--no-group-by-length'),
    backend: backendName,
  };
  console.log(`train inputs: ${JSON.stringify({ ...inputs, data: undefined, eval: undefined, tokenizer: undefined })}`);
  const t0 = performance.now();
  const out = await runStage(train, 'train-st', inputs);
  const wall = (performance.now() - t0) / 1000;
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  // Reload the saved checkpoint and check that logits equal a second reload's and the metrics' accuracy.
  const dev = await readTokenizedJsonl(inputs.eval.synthetic_dev);
  const m1 = await BertForSequenceClassification.fromPretrained(join(out, 'model'));
  const l1 = Array.from(m1.logits(makeBatch(dev.slice(0, 64))).dataSync());
  m1.dispose();
  const m2 = await BertForSequenceClassification.fromPretrained(join(out, 'model'));
  const l2 = Array.from(m2.logits(makeBatch(dev.slice(0, 64))).dataSync());
  m2.dispose();
  const identical = l1.length > 0 && l1.every((v, i) => v === l2[i]);
  console.log('\n| epoch | train loss | examples/s | synthetic_dev acc | synthetic_dev loss | original_dev acc | original_dev loss |\n|---|---|---|---|---|---|---|');
  for (const e of metrics.epochs) {
    console.log(`| ${e.epoch} | ${e.train_loss.toFixed(4)} | ${e.examples_per_second.toFixed(1)} | ${(100 * e.eval.synthetic_dev.accuracy).toFixed(2)}% | ${e.eval.synthetic_dev.loss.toFixed(4)} | ${(100 * e.eval.original_dev.accuracy).toFixed(2)}% | ${e.eval.original_dev.loss.toFixed(4)} |`);
  }
  console.log(`\ntrain stage wall time ${wall.toFixed(1)} s; reloaded checkpoint gives identical logits: ${identical}`);
  writeFileSync(join(OUT, 'train-acceptance.json'), JSON.stringify({ inputs, wall_seconds: wall, metrics, reload_identical: identical }, null, 2));
}


const stageModule = async (n: string) => ((await import(`../stages/${n}/stage.js`)) as { default: StageModule }).default;

/**
 * The ST training and dev sets the demo builds (load → shortcut create st → tokenize), under
 * ROOT: the tokenize stages' output folders by split.
 */
async function stSets(take: number, shuffleSeed: number | undefined, rootDir: string): Promise<Record<'train' | 'synthetic_dev' | 'original_dev', string>> {
  const [load, shortcut, tokenize] = await Promise.all(['load', 'shortcut', 'tokenize'].map(stageModule));
  const bertDir = join(PACKAGE_ROOT, 'data', 'bert-base-cased');
  const trainRaw = await runStage(load, 'load-train', { path: join(PACKAGE_ROOT, 'data', 'sst2', 'train.tsv.gz'), shuffle_seed: shuffleSeed, take }, rootDir);
  const devRaw = await runStage(load, 'load-dev', { path: join(PACKAGE_ROOT, 'data', 'sst2', 'dev.tsv') }, rootDir);
  const st = await runStage(shortcut, 'shortcut-st', { mode: 'create', kind: 'st', train: join(trainRaw, 'data.jsonl'), validation: join(devRaw, 'data.jsonl'), tokenizer: bertDir }, rootDir);
  const tok: Record<string, string> = {};
  for (const split of ['train', 'synthetic_dev', 'original_dev']) {
    tok[split] = await runStage(tokenize, `tokenize-${split}`, { data: join(st, `${split}.jsonl`), tokenizer: bertDir, add_tokens: ['zeroa', 'onea', 'synt'] }, rootDir);
  }
  return tok as Record<'train' | 'synthetic_dev' | 'original_dev', string>;
}

/** The batches (row indices) of the trainer's first epoch, as runTraining orders them. */
function trainerBatches(lengths: number[], batchSize: number, seed: number, groupByLength: boolean): number[][] {
  const shuffled = epochOrder(lengths.length, seed, 0);
  const order = groupByLength ? lengthGroupedOrder(shuffled, lengths, batchSize) : shuffled;
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) out.push(Array.from(order.subarray(i, i + batchSize)));
  return out;
}

function childRun(childArgs: string[], env: NodeJS.ProcessEnv = process.env): RunResult {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...childArgs], { encoding: 'utf8', maxBuffer: 1 << 26, env });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) throw new Error(`child ${childArgs.join(' ')} failed (${r.status}):\n${r.stderr.split('\n').filter((l) => !l.startsWith('var Module')).join('\n').slice(-3000)}`);
  return JSON.parse(line);
}

/** Child: the initial model of a case, saved where both sides load it from. */
async function prepareChild(dir: string, config: string): Promise<void> {
  await initBackend(backendName);
  const m = BertForSequenceClassification.fromConfig({ ...JSON.parse(config), vocab_size: 28999 }, 1);
  await m.save(dir);
  console.log(JSON.stringify({ params: m.numParameters() }));
  m.dispose();
}

/** Child: the fisherflow side of a job, through the train stage's loop (runTraining). */
async function trainChild(jobFile: string): Promise<void> {
  const job = JSON.parse(readFileSync(jobFile, 'utf8')) as BenchJob;
  await initBackend(backendName, { threads: job.threads });
  const all = await readTokenizedJsonl(job.data);
  const times: number[] = [];
  const cpu: number[] = [];
  const workDir = join(OUT, `train-work-${process.pid}`);
  const { model, metrics } = await runTraining({
    settings: { epochs: 1, batchSize: job.batch_size, evalBatchSize: job.batch_size, learningRate: job.lr, weightDecay: job.weight_decay, warmupSteps: job.warmup_steps, maxGradNorm: job.max_grad_norm, seed: job.seed, padId: 0, loggingSteps: 1, groupByLength: job.group_by_length },
    train: all,
    evalSets: {},
    workDir,
    createModel: () => BertForSequenceClassification.fromPretrained(job.model_dir),
    loadModel: (d) => BertForSequenceClassification.fromPretrained(d),
    log: () => {},
    progress: () => {
      times.push(performance.now());
      const u = process.cpuUsage();
      cpu.push((u.user + u.system) / 1e6);
    },
    progressIntervalMs: 0,
    signal: new AbortController().signal,
  });
  model.dispose();
  rmSync(workDir, { recursive: true, force: true }); // the epoch checkpoint (1.3 GB for BERT-base)
  // times[k] is the end of step k; step 0 is warm-up.
  const steps = times.length - 1;
  const examples = job.batches.slice(1, steps + 1).reduce((n, b) => n + b.length, 0);
  const seconds = (times[steps] - times[0]) / 1000;
  console.log(JSON.stringify({ steps, examples, seconds, examples_per_s: examples / seconds, cpu_seconds: cpu[steps] - cpu[0], losses: metrics.curve.map((p) => p.loss), max_rss_bytes: process.resourceUsage().maxRSS * 1024, load_avg: loadavg()[0] } satisfies RunResult));
}

async function sideBySide(): Promise<void> {
  const caseNames = opt('cases', 'demo,demo-grouped,base').split(',');
  const repeat = Math.max(1, Number(opt('repeat', '2')));
  const baseSteps = Number(opt('base-steps', '4'));
  const threads = Number(opt('threads', '2'));
  const torch = !args.includes('--no-torch') && existsSync('/usr/bin/python3');
  const root = join(OUT, 'train-bench');
  const tok = await stSets(2000, 0, root);
  const dataFile = join(tok.train, 'data.jsonl');
  const rows = await readTokenizedJsonl(dataFile);
  const lengths = rows.map((r) => r.input_ids.length);
  const all: Case[] = [
    { name: 'demo', config: DEMO_CONFIG, batchSize: 32, lr: 1e-3, groupByLength: false },
    { name: 'demo-grouped', config: DEMO_CONFIG, batchSize: 32, lr: 1e-3, groupByLength: true },
    { name: 'base', config: BASE_CONFIG, batchSize: 16, lr: 2e-5, groupByLength: false, steps: baseSteps + 1 },
  ];
  const cases = all.filter((c) => caseNames.includes(c.name));
  const startLoad = loadavg();
  console.log(`machine: ${cpus()[0]?.model} × ${cpus().length}, node ${process.version}; ${threads} threads each side; load average at start ${startLoad.map((x) => x.toFixed(1)).join(' ')}`);
  const summary: unknown[] = [];
  const table: string[] = [];
  for (const c of cases) {
    const modelDir = join(root, `model-${c.name}`);
    rmSync(modelDir, { recursive: true, force: true });
    const { params } = childRun(['--child', 'prepare', modelDir, JSON.stringify({ ...c.config, ...NO_DROPOUT })]) as unknown as { params: number };
    // A subset for a limited number of steps: the trainer's order over the subset is what both run.
    let data = dataFile;
    let subsetLengths = lengths;
    if (c.steps !== undefined) {
      const firstRows = trainerBatches(lengths, c.batchSize, 42, c.groupByLength).slice(0, c.steps).flat();
      data = join(root, `data-${c.name}.jsonl`);
      writeFileSync(data, firstRows.map((i) => JSON.stringify(rows[i])).join('\n') + '\n');
      subsetLengths = firstRows.map((i) => lengths[i]);
    }
    const batches = trainerBatches(subsetLengths, c.batchSize, 42, c.groupByLength);
    const job: BenchJob = { model_dir: modelDir, data, batches, lr: c.lr, weight_decay: 0.01, max_grad_norm: 1, warmup_steps: warmupStepsFor(batches.length, { warmupRatio: 0.1 }), threads, seed: 42, group_by_length: c.groupByLength, batch_size: c.batchSize };
    const jobFile = join(root, `job-${c.name}.json`);
    writeFileSync(jobFile, JSON.stringify(job));
    const padded = batches.slice(1).reduce((n, b) => n + b.length * Math.max(...b.map((i) => subsetLengths[i])), 0) / batches.slice(1).reduce((n, b) => n + b.length, 0);
    const ours: RunResult[] = [];
    const theirs: RunResult[] = [];
    for (let r = 0; r < repeat; r++) {
      if (torch) {
        const l0 = loadavg()[0];
        const p = spawnSync('/usr/bin/python3', [join(PACKAGE_ROOT, 'bench', 'train_torch.py'), jobFile], { encoding: 'utf8', maxBuffer: 1 << 26 });
        if (p.status === 0) theirs.push({ ...JSON.parse(p.stdout.trim().split('\n').pop()!), load_avg: l0 });
        else throw new Error(`PyTorch run failed: ${p.stderr.slice(-2000)}`);
        console.log(`${c.name} PyTorch: ${theirs[theirs.length - 1].examples_per_s.toFixed(2)} ex/s (load ${l0.toFixed(1)})`);
      }
      ours.push(childRun(['--child', 'train', jobFile]));
      console.log(`${c.name} fisherflow: ${ours[ours.length - 1].examples_per_s.toFixed(2)} ex/s (load ${ours[ours.length - 1].load_avg!.toFixed(1)})`);
    }
    const best = (xs: RunResult[]) => xs.reduce((a, b) => (b.examples_per_s > a.examples_per_s ? b : a));
    const runs = (xs: RunResult[]) => xs.map((x) => x.examples_per_s.toFixed(2)).join(' / ');
    const o = best(ours);
    const t = theirs.length ? best(theirs) : null;
    // Same weights, batches and recipe: the loss curves agree up to float32 noise that grows over the steps.
    const lossDiff = t ? o.losses.map((l, i) => Math.abs(l - t.losses[i])) : [];
    const meanLoss = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    table.push(`| ${c.name} | ${(params / 1e6).toFixed(1)} M | ${c.batchSize} | ${o.steps} | ${padded.toFixed(1)} | ${t ? `${t.examples_per_s.toFixed(2)} (${runs(theirs)})` : '–'} | ${o.examples_per_s.toFixed(2)} (${runs(ours)}) | ${t ? `**${(o.examples_per_s / t.examples_per_s).toFixed(2)}×**` : '–'} | ${t ? `${(t.cpu_seconds / t.steps).toFixed(3)} / ${(o.cpu_seconds / o.steps).toFixed(3)}` : (o.cpu_seconds / o.steps).toFixed(3)} | ${t ? `${t.losses[0].toFixed(4)} / ${o.losses[0].toFixed(4)}; ${meanLoss(t.losses).toFixed(4)} / ${meanLoss(o.losses).toFixed(4)}; max Δ ${Math.max(...lossDiff).toExponential(1)}` : '–'} | ${[...ours, ...theirs].map((x) => x.load_avg!.toFixed(1)).join(', ')} |`);
    summary.push({ case: c, params, padded_tokens_per_row: padded, fisherflow: ours, pytorch: theirs });
  }
  console.log(`\n| case | params | batch | steps timed | padded tokens/row | PyTorch ex/s (runs) | fisherflow ex/s (runs) | fisherflow / PyTorch | CPU s/step PyTorch / fisherflow | loss: first step, mean (PyTorch / fisherflow) | load avg at each run |\n|---|---|---|---|---|---|---|---|---|---|---|`);
  for (const line of table) console.log(line);
  writeFileSync(join(OUT, 'train.json'), JSON.stringify({ load_average_at_start: startLoad, threads, results: summary }, null, 2));
}

if (args[0] === '--child') {
  if (args[1] === 'prepare') await prepareChild(args[2], args[3]);
  else await trainChild(args[2]);
} else if (args.includes('--acceptance')) {
  await initBackend(backendName);
  await acceptance();
  process.exit(0);
} else {
  await sideBySide();
}
