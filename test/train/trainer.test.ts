// The training loop with a stand-in model (test/train/stand-in-model.ts) on the tiny fixtures:
// loss goes down, a fixed seed reproduces the run, an aborted run resumes from its last epoch
// checkpoint to the same result, and metrics.json has its documented shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { runTraining, type TrainJob, type TrainSettings } from '../../stages/train/trainer.js';
import { epochOrder, lengthGroupedOrder } from '../../stages/train/data-order.js';
import { scratchDir } from './scratch.js';
import { StandInModel } from './stand-in-model.js';
import { TINY_VOCAB, tinyData } from './tiny-data.js';

await tf.setBackend('cpu');
const { train, dev } = await tinyData();

const settings: TrainSettings = {
  epochs: 3, batchSize: 8, evalBatchSize: 16, learningRate: 0.1, weightDecay: 0.01, warmupSteps: 2,
  maxGradNorm: 1.0, seed: 3, padId: 0, loggingSteps: 4,
};

function job(over: Partial<TrainJob> & { seed?: number } = {}): TrainJob & { events: Array<[number, number, string?]>; logs: string[] } {
  const events: Array<[number, number, string?]> = [];
  const logs: string[] = [];
  const s = { ...settings, seed: over.seed ?? settings.seed };
  return {
    settings: s,
    train,
    evalSets: { dev },
    workDir: scratchDir('ff-train-'),
    createModel: async () => StandInModel.fromSeed(TINY_VOCAB, 8, s.seed),
    loadModel: (dir) => StandInModel.load(dir),
    log: (m) => logs.push(m),
    progress: (d, t, n) => events.push([d, t, n]),
    signal: new AbortController().signal,
    progressIntervalMs: 0,
    events,
    logs,
    ...over,
  };
}

function paramsOf(m: { params: Map<string, tf.Variable> }): Record<string, number[]> {
  return Object.fromEntries([...m.params].map(([k, v]) => [k, [...v.dataSync()]]));
}

const stripTimes = (epochs: Array<Record<string, unknown>>) => epochs.map(({ seconds, examples_per_second, eval_seconds, ...rest }) => rest);

test('epoch order is a seeded permutation, different per epoch and seed', () => {
  const a = epochOrder(50, 1, 0);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(a, epochOrder(50, 1, 0));
  assert.notDeepEqual(a, epochOrder(50, 1, 1));
  assert.notDeepEqual(a, epochOrder(50, 2, 0));
});

test('group_by_length keeps the epoch\'s rows and sorts each mega-batch of 50 batches by length', () => {
  const lengths = Array.from({ length: 250 }, (_, i) => (i * 37) % 61);
  const order = epochOrder(250, 7, 0);
  const grouped = lengthGroupedOrder(order, lengths, 2); // mega-batches of 100 rows
  assert.deepEqual([...grouped].sort((a, b) => a - b), [...order].sort((a, b) => a - b));
  for (const [from, to] of [[0, 100], [100, 200], [200, 250]]) {
    const chunk = [...grouped.subarray(from, to)];
    assert.deepEqual(new Set(chunk), new Set(order.subarray(from, to)));
    for (let i = 1; i < chunk.length; i++) assert.ok(lengths[chunk[i - 1]] >= lengths[chunk[i]]);
  }
});

test('short run: loss decreases, dev accuracy rises, progress and metrics are reported', async () => {
  const j = job();
  const r = await runTraining(j);
  const m = r.metrics;
  assert.equal(m.epochs.length, 3);
  assert.ok(m.epochs[2].train_loss < m.epochs[0].train_loss, `train loss ${m.epochs.map((e) => e.train_loss)}`);
  assert.ok(m.epochs[2].eval.dev.loss < m.epochs[0].eval.dev.loss);
  assert.ok(m.final.dev.accuracy >= 0.9, `dev accuracy ${m.final.dev.accuracy}`);
  assert.deepEqual(m.final, m.epochs[2].eval);
  assert.deepEqual(m.epochs.map((e) => e.step), [12, 24, 36]); // ceil(96 / 8) steps per epoch
  // Linear decay reaches 0 at the last step's successor: the last step uses lr * 1/(36-2).
  assert.ok(Math.abs(m.epochs[2].learning_rate - 0.1 / 34) < 1e-12);
  assert.ok(m.curve.length >= 9 && m.curve.every((p) => Number.isFinite(p.loss)));
  assert.equal(m.curve[m.curve.length - 1].step, 36);
  for (const e of m.epochs) assert.ok(e.examples_per_second > 0 && e.seconds > 0);
  const last = j.events[j.events.length - 1];
  assert.equal(last[0], 96 * 3);
  assert.equal(last[1], 96 * 3);
  assert.match(last[2] ?? '', /^epoch \d+\/\d+ · loss \d+\.\d{4}$/);
  r.model.dispose();
});

test('a fixed seed reproduces the run exactly; another seed does not', async () => {
  const a = await runTraining(job());
  const b = await runTraining(job());
  const c = await runTraining(job({ seed: 4 }));
  assert.deepEqual(paramsOf(a.model), paramsOf(b.model));
  assert.deepEqual(stripTimes(a.metrics.epochs as never), stripTimes(b.metrics.epochs as never));
  assert.deepEqual(a.metrics.curve, b.metrics.curve);
  assert.notDeepEqual(a.metrics.curve, c.metrics.curve);
  for (const r of [a, b, c]) r.model.dispose();
});

test('an aborted run resumes from the last epoch checkpoint and ends as the uninterrupted run', async () => {
  const full = await runTraining(job());
  const ac = new AbortController();
  const workDir = scratchDir('ff-train-resume-');
  // Abort in the middle of epoch 2 (epoch 1 has 96 examples).
  const first = job({ workDir, signal: ac.signal });
  // The abort arrives as an event (as the worker's IPC message does), not inside a callback of
  // the loop: the loop must yield to the event loop between steps to see it.
  let lastDone = 0;
  first.progress = (d) => { lastDone = d; if (d > 96 + 40) setImmediate(() => ac.abort()); };
  await assert.rejects(runTraining(first), (e: Error) => e.name === 'AbortError');
  assert.equal(lastDone, 96 + 40 + 8, 'stopped at the next step, mid-epoch');
  assert.deepEqual(readdirSync(join(workDir, 'checkpoints')), ['epoch-1']);
  for (const f of ['model.safetensors', 'optimizer.safetensors', 'trainer_state.json']) assert.ok(existsSync(join(workDir, 'checkpoints', 'epoch-1', f)));

  const second = job({ workDir });
  const created: string[] = [];
  second.createModel = async () => { created.push('fresh'); return StandInModel.fromSeed(TINY_VOCAB, 8, 99); };
  const resumed = await runTraining(second);
  assert.equal(resumed.resumedEpochs, 1);
  assert.deepEqual(created, [], 'a resumed run must not start from a fresh model');
  assert.ok(second.logs.some((l) => /resuming from .*epoch-1/.test(l)));
  assert.equal(second.events[0][0] > 96, true, 'progress continues after the resumed epoch');
  assert.deepEqual(paramsOf(resumed.model), paramsOf(full.model));
  assert.deepEqual(stripTimes(resumed.metrics.epochs as never), stripTimes(full.metrics.epochs as never));
  assert.deepEqual(resumed.metrics.curve, full.metrics.curve);
  assert.deepEqual(readdirSync(join(workDir, 'checkpoints')), ['epoch-3']);
  full.model.dispose();
  resumed.model.dispose();
});

test('group_by_length trains to the same quality', async () => {
  const j = job();
  j.settings = { ...j.settings, groupByLength: true };
  const r = await runTraining(j);
  assert.ok(r.metrics.final.dev.accuracy >= 0.9, `dev accuracy ${r.metrics.final.dev.accuracy}`);
  r.model.dispose();
});

test('a checkpoint of a different run (other settings) is ignored', async () => {
  const workDir = scratchDir('ff-train-fp-');
  const a = await runTraining(job({ workDir }));
  const other = job({ workDir });
  other.settings = { ...other.settings, learningRate: 0.01 };
  const b = await runTraining(other);
  assert.equal(b.resumedEpochs, 0);
  assert.notDeepEqual(paramsOf(a.model), paramsOf(b.model));
  a.model.dispose();
  b.model.dispose();
});
