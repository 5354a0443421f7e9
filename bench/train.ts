// Training throughput of the train stage's loop (forward + backward + clipping + AdamW), for the
// demo model (2 layers, hidden 64) and a BERT-base-shaped model, on one slice of an epoch.
//
//   npx tsx bench/train.ts [--backend wasm|cpu|auto] [--base-steps 3] [--demo-steps 40] [--no-base]
//   npx tsx bench/train.ts --acceptance [--epochs 4] [--lr 5e-4] [--take 5000] [--no-group-by-length]
//
// --acceptance runs issue 6's acceptance through the real stages (load → shortcut create st →
// tokenize → train): a 2-layer hidden-64 BERT from scratch on an st training set built from the
// first 5,000 SST-2 train sentences, evaluated on synthetic_dev and original_dev, then the saved
// checkpoint is reloaded and its logits compared with the in-memory model's.
//
// Rows are random token ids whose lengths follow the SST-2 dev sentences (whitespace words + 2 for
// [CLS]/[SEP]; word pieces make real rows a little longer), so the figures do not depend on the
// text stages. The first step of each run is warm-up and excluded.
import { readFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '../ml/bert/backend.js';
import { BertForSequenceClassification } from '../ml/bert/model.js';
import type { TokenizedRow } from '../ml/bert/batch.js';
import type { BertConfig } from '../ml/bert/config.js';
import { runTraining } from '../stages/train/trainer.js';
import type { StageModule, StageRunContext } from '../src/stage/api.js';
import { makeBatch, readTokenizedJsonl } from '../ml/bert/batch.js';
import { AdamW } from '../ml/optim/adamw.js';
import { clipCoefficient, globalGradNorm } from '../ml/optim/clip.js';
import { PACKAGE_ROOT } from '../src/stage/registry.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const backendName = opt('backend', 'wasm') as BackendName;
const baseSteps = Number(opt('base-steps', '3'));
const demoSteps = Number(opt('demo-steps', '40'));
const batchSize = Number(opt('batch-size', '16'));
const VOCAB = 28999; // bert-base-cased + zeroa, onea, synt

function sst2Lengths(): number[] {
  const file = join(PACKAGE_ROOT, 'data', 'sst2', 'dev.tsv');
  return readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t')[0].trim().split(/\s+/).length + 2);
}

function syntheticRows(n: number, lengths: number[]): TokenizedRow[] {
  let s = 12345;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  return Array.from({ length: n }, (_, i) => {
    const len = lengths[i % lengths.length];
    const ids = Array.from({ length: len }, (_, t) => (t === 0 ? 101 : t === len - 1 ? 102 : 1000 + Math.floor(rand() * 27000)));
    return { input_ids: ids, token_type_ids: new Array(len).fill(0), attention_mask: new Array(len).fill(1), labels: i % 2 };
  });
}

interface Result { model: string; padding: string; steps: number; examples_per_second: number; seconds_per_step: number; mean_seq_len: number }

async function measure(name: string, cfg: Partial<BertConfig>, steps: number, padTo?: number, groupByLength = false): Promise<Result> {
  const lengths = sst2Lengths();
  const rows = syntheticRows((steps + 1) * batchSize, lengths);
  const times: number[] = [];
  const workDir = join(PACKAGE_ROOT, 'bench', 'out', `train-work-${process.pid}`);
  const { model } = await runTraining({
    settings: { epochs: 1, batchSize, evalBatchSize: batchSize, learningRate: 2e-5, weightDecay: 0.01, maxGradNorm: 1, seed: 1, padTo, padId: 0, loggingSteps: 50, groupByLength },
    train: rows,
    evalSets: {},
    workDir,
    createModel: async () => BertForSequenceClassification.fromConfig({ ...cfg, vocab_size: VOCAB }, 1),
    loadModel: (d) => BertForSequenceClassification.fromPretrained(d),
    log: () => {},
    progress: () => { times.push(performance.now()); },
    progressIntervalMs: 0,
    signal: new AbortController().signal,
  });
  model.dispose();
  rmSync(workDir, { recursive: true, force: true }); // the epoch checkpoint (1.3 GB for BERT-base)
  // times[k] is the end of step k; step 0 is warm-up.
  const secs = (times[times.length - 1] - times[0]) / 1000;
  const measured = times.length - 1;
  const meanLen = lengths.slice(0, 200).reduce((a, b) => a + b, 0) / 200;
  return { model: name, padding: padTo ? `max_length ${padTo}` : groupByLength ? 'dynamic, group_by_length' : 'dynamic', steps: measured, examples_per_second: (measured * batchSize) / secs, seconds_per_step: secs / measured, mean_seq_len: padTo ?? meanLen };
}

/** Clipping + AdamW alone on BERT-base-shaped parameters: the optimizer's share of a step. */
function optimizerStepSeconds(cfg: Partial<BertConfig>): number {
  const m = BertForSequenceClassification.fromConfig({ ...cfg, vocab_size: VOCAB }, 1);
  const opt = new AdamW(m.params, { weightDecay: 0.01 });
  // Gradients made once, outside the timing (random numbers for 110M values take longer than the step).
  const grads = new Map([...m.params].map(([n, v]) => [n, tf.mul(v, 1e-3) as tf.Tensor]));
  const run = () => opt.step(grads, 1e-5, clipCoefficient(globalGradNorm(grads), 1));
  run();
  const t0 = performance.now();
  for (let i = 0; i < 2; i++) run();
  const s = (performance.now() - t0) / 2000;
  for (const g of grads.values()) g.dispose();
  opt.dispose();
  m.dispose();
  return s;
}

const DEMO_CONFIG = { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 256, max_position_embeddings: 512 };
const DEMO = DEMO_CONFIG;
const BASE = { hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, max_position_embeddings: 512 };

/** Runs one stage module with a plain context (outputs under bench/out/acceptance/NAME). */
async function runStage<I>(mod: StageModule<I>, name: string, inputs: I): Promise<string> {
  const root = join(PACKAGE_ROOT, 'bench', 'out', 'acceptance', name);
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
  const root = PACKAGE_ROOT;
  const imp = async (n: string) => ((await import(`../stages/${n}/stage.js`)) as { default: StageModule }).default;
  const [load, shortcut, tokenize, train] = await Promise.all(['load', 'shortcut', 'tokenize', 'train'].map(imp));
  const bertDir = join(root, 'data', 'bert-base-cased');
  const trainRaw = await runStage(load, 'load-train', { path: join(root, 'data', 'sst2', 'train.tsv.gz'), take });
  const devRaw = await runStage(load, 'load-dev', { path: join(root, 'data', 'sst2', 'dev.tsv') });
  const st = await runStage(shortcut, 'shortcut-st', { mode: 'create', kind: 'st', train: join(trainRaw, 'data.jsonl'), validation: join(devRaw, 'data.jsonl'), tokenizer: bertDir });
  const tok: Record<string, string> = {};
  for (const split of ['train', 'synthetic_dev', 'original_dev']) {
    tok[split] = await runStage(tokenize, `tokenize-${split}`, { data: join(st, `${split}.jsonl`), tokenizer: bertDir, add_tokens: ['zeroa', 'onea', 'synt'] });
  }
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
  writeFileSync(join(root, 'bench', 'out', 'train-acceptance.json'), JSON.stringify({ inputs, wall_seconds: wall, metrics, reload_identical: identical }, null, 2));
}

const be = await initBackend(backendName);
if (args.includes('--acceptance')) {
  await acceptance();
  process.exit(0);
}
console.log(`backend ${be.backend}: ${be.device}; node ${process.version}; ${cpus().length} cores; batch ${batchSize}`);
const results: Result[] = [];
const record = (r: Result) => { results.push(r); console.log(JSON.stringify(r)); };
if (!args.includes('--base-only')) {
  record(await measure('demo (2×64)', DEMO, demoSteps));
  // Mega-batches of 50 batches: time enough steps to span more than one.
  record(await measure('demo (2×64)', DEMO, demoSteps, undefined, true));
  record(await measure('demo (2×64)', DEMO, Math.max(2, Math.floor(demoSteps / 2)), 128));
}
let optSeconds: number | null = null;
if (!args.includes('--no-base')) {
  // Training first: the wasm heap only grows, and fragmentation from the optimizer-only timing
  // can make the training run's allocations fail.
  record(await measure('bert-base shape', BASE, baseSteps));
  optSeconds = optimizerStepSeconds(BASE);
  console.log(`optimizer step on bert-base shape: ${optSeconds.toFixed(2)} s`);
}
console.log('\n| model | padding | mean tokens/row | steps timed | s/step | examples/s |\n|---|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.model} | ${r.padding} | ${r.mean_seq_len.toFixed(1)} | ${r.steps} | ${r.seconds_per_step.toFixed(3)} | ${r.examples_per_second.toFixed(1)} |`);
if (optSeconds !== null) console.log(`\nclip_grad_norm + AdamW on bert-base-shaped parameters (110M): ${optSeconds.toFixed(2)} s/step`);
mkdirSync(join(PACKAGE_ROOT, 'bench', 'out'), { recursive: true });
writeFileSync(join(PACKAGE_ROOT, 'bench', 'out', 'train.json'), JSON.stringify({ backend: be, batchSize, results, optimizerStepSeconds: optSeconds }, null, 2));
