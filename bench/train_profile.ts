// Where a training step's time goes on the fisherflow side (the companion of bench/train.ts):
// one case's batches from the job file bench/train.ts wrote, stepped as the trainer does, with the
// step split into lossAndGrads (forward + backward), the clipping norm and AdamW, and tfjs's
// per-kernel profile of one lossAndGrads (kernels summed by name; with the native BLAS, MatMul and
// the GELU kernels run in the addon).
//
//   node dist/bench/train_profile.js bench/out/train-bench/job-base.json [--steps 3] [--threads 2]
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../ml/bert/backend.js';
import { BertForSequenceClassification } from '../ml/bert/model.js';
import { makeBatch, readTokenizedJsonl } from '../ml/bert/batch.js';
import { AdamW } from '../ml/optim/adamw.js';
import { clipCoefficient, globalGradNorm } from '../ml/optim/clip.js';
import { disposeGradients } from '../ml/optim/gradient.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const job = JSON.parse(readFileSync(args[0], 'utf8')) as { model_dir: string; data: string; batches: number[][]; lr: number; weight_decay: number };
const steps = Number(opt('steps', '3'));
const info = await initBackend('wasm', { threads: Number(opt('threads', '2')) });
console.log(`${info.device}; BLAS ${info.blas}`);
const rows = await readTokenizedJsonl(job.data);
const model = await BertForSequenceClassification.fromPretrained(job.model_dir);
const optimizer = new AdamW(model.params, { weightDecay: job.weight_decay });
const t = { grads: 0, norm: 0, adamw: 0, cpu: 0 };
const now = () => performance.now();
for (let k = 0; k <= steps; k++) {
  const batch = makeBatch(job.batches[k].map((i) => rows[i]), { padId: 0 });
  const c0 = process.cpuUsage();
  const t0 = now();
  const { grads } = await model.lossAndGrads(batch, { training: true, seed: k, sparseEmbeddingGrads: true });
  const t1 = now();
  const scale = clipCoefficient(globalGradNorm(grads), 1);
  const t2 = now();
  optimizer.step(grads, job.lr, scale);
  const t3 = now();
  disposeGradients(grads);
  const c = process.cpuUsage(c0);
  if (k === 0) continue; // warm-up
  t.grads += t1 - t0; t.norm += t2 - t1; t.adamw += t3 - t2; t.cpu += (c.user + c.system) / 1000;
  console.log(`step ${k}: ${batch.batchSize} × ${batch.seqLen} tokens; lossAndGrads ${(t1 - t0).toFixed(0)} ms, norm ${(t2 - t1).toFixed(0)} ms, AdamW ${(t3 - t2).toFixed(0)} ms`);
}
const per = (x: number) => (x / steps).toFixed(0);
console.log(`mean per step: lossAndGrads ${per(t.grads)} ms, clipping norm ${per(t.norm)} ms, AdamW ${per(t.adamw)} ms; CPU ${per(t.cpu)} ms`);

// tfjs's kernel profile of one more lossAndGrads.
const batch = makeBatch(job.batches[steps + 1 < job.batches.length ? steps + 1 : 1].map((i) => rows[i]), { padId: 0 });
const tp = now();
const prof = await tf.profile(async () => { const { grads } = await model.lossAndGrads(batch, { training: true, seed: 99, sparseEmbeddingGrads: true }); disposeGradients(grads); });
const profWall = now() - tp;
const byName = new Map<string, { ms: number; calls: number }>();
for (const k of prof.kernels) {
  // tf.customGrad's forward function is profiled as 'forward' and contains kernels listed on their own.
  if (k.name === 'forward') continue;
  const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
  e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  e.calls++;
  byName.set(k.name, e);
}
const total = [...byName.values()].reduce((a, b) => a + b.ms, 0);
console.log(`\nkernels of one lossAndGrads (${batch.batchSize} × ${batch.seqLen}): ${total.toFixed(0)} ms in kernels (wall ${profWall.toFixed(0)} ms)`);
console.log('| kernel | calls | ms | share |\n|---|---|---|---|');
for (const [name, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) console.log(`| ${name} | ${e.calls} | ${e.ms.toFixed(1)} | ${((100 * e.ms) / total).toFixed(1)} % |`);
optimizer.dispose();
model.dispose();
