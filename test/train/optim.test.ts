// AdamW, the linear warm-up schedule and global-norm clipping against PyTorch 1.13.
// Fixture: test/fixtures/train/optim.json, made by make_optim_fixture.py (same folder) with
// Debian's /usr/bin/python3 and torch.optim.AdamW / LambdaLR / clip_grad_norm_.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { AdamW, isNoDecayParam } from '../../ml/optim/adamw.js';
import { linearWarmupDecay, warmupStepsFor } from '../../ml/optim/schedule.js';
import { clipCoefficient, clipGradNorm, globalGradNorm } from '../../ml/optim/clip.js';
import { fixturePath } from './repo-root.js';
import { initBackend } from '../../ml/bert/backend.js';
import { nativeOptimizerKernels, nativeBlasUnavailable } from '../../ml/bert/native-blas.js';

interface Fixture {
  lr: number; weight_decay: number; warmup: number; total: number; max_norm: number;
  shapes: Record<string, number[]>;
  init: Record<string, number[]>;
  steps: Array<{ lr: number; total_norm: number; grads: Record<string, number[]>; clipped: Record<string, number[]>; params: Record<string, number[]> }>;
  schedules: Array<{ warmup: number; total: number; multipliers: number[] }>;
}
const fx: Fixture = JSON.parse(readFileSync(fixturePath('optim.json'), 'utf8'));

function assertClose(actual: ArrayLike<number>, expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    assert.ok(d <= tol * (1 + Math.abs(expected[i])), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test('linear schedule with warm-up matches HF get_linear_schedule_with_warmup', () => {
  for (const s of fx.schedules) {
    s.multipliers.forEach((m, step) => assert.equal(linearWarmupDecay(step, s.warmup, s.total), m, `w${s.warmup} T${s.total} step ${step}`));
  }
  assert.equal(warmupStepsFor(100, { warmupRatio: 0.06 }), 6);
  assert.equal(warmupStepsFor(101, { warmupRatio: 0.06 }), 7); // HF rounds up
  assert.equal(warmupStepsFor(100, { warmupSteps: 3, warmupRatio: 0.5 }), 3);
  assert.equal(warmupStepsFor(100, {}), 0);
});

test('no weight decay on biases and LayerNorm weights (HF Trainer grouping)', () => {
  assert.ok(isNoDecayParam('bert.embeddings.LayerNorm.weight'));
  assert.ok(isNoDecayParam('bert.encoder.layer.3.output.LayerNorm.bias'));
  assert.ok(isNoDecayParam('classifier.bias'));
  assert.ok(!isNoDecayParam('bert.embeddings.word_embeddings.weight'));
  assert.ok(!isNoDecayParam('bert.pooler.dense.weight'));
});

const noKernels = nativeOptimizerKernels() ? false : `native optimizer kernels not available: ${nativeBlasUnavailable}`;

for (const [impl, backend] of [['js', 'cpu'], ['tensor', 'cpu'], ['js', 'wasm'], ['native', 'wasm'], ['tensor', 'wasm']] as const) {
  test(`clip_grad_norm_ + AdamW (${impl} implementation, ${backend} backend) + schedule reproduce torch step by step`, { skip: impl === 'native' && noKernels }, async () => {
    await initBackend(backend); // on wasm the js implementation updates the heap in place
    const params = new Map<string, tf.Variable>();
    for (const [n, shape] of Object.entries(fx.shapes)) params.set(n, tf.variable(tf.tensor(fx.init[n], shape, 'float32'), true));
    const opt = new AdamW(params, { weightDecay: fx.weight_decay, impl });
    assert.equal(opt.impl, impl);
    const ids = new Map([...params].map(([n, p]) => [n, p.dataId]));
    fx.steps.forEach((s, t) => {
      const lr = fx.lr * linearWarmupDecay(t, fx.warmup, fx.total);
      assert.ok(Math.abs(lr - s.lr) < 1e-15, `lr at step ${t}`);
      const grads = new Map<string, tf.Tensor>();
      for (const [n, shape] of Object.entries(fx.shapes)) grads.set(n, tf.tensor(s.grads[n], shape, 'float32'));
      const norm = globalGradNorm(grads);
      assert.ok(Math.abs(norm - s.total_norm) <= 1e-6 * s.total_norm, `norm at step ${t}: ${norm} vs ${s.total_norm}`);
      const coef = clipCoefficient(norm, fx.max_norm);
      if (impl === 'tensor') {
        // The unfused path: scaled gradient tensors, as torch leaves them in .grad.
        const clipped = clipGradNorm(grads, fx.max_norm);
        for (const [n, g] of clipped.grads) assertClose(g.dataSync(), s.clipped[n], 1e-6, `clipped grad ${n} step ${t}`);
        opt.step(clipped.grads, lr);
        for (const g of clipped.grads.values()) g.dispose();
      } else {
        opt.step(grads, lr, coef);
        for (const g of grads.values()) g.dispose();
      }
      for (const [n, p] of params) assertClose(p.dataSync(), s.params[n], 2e-6, `${n} after step ${t + 1}`);
    });
    assert.equal(opt.stepCount, fx.steps.length);
    // On wasm the fused loop writes into the variables' own heap memory (no new data ids).
    if (impl !== 'tensor' && backend === 'wasm') for (const [n, p] of params) assert.equal(p.dataId, ids.get(n), `${n} updated in place`);
    opt.dispose();
    for (const p of params.values()) p.dispose();
  });
}

test('clip coefficient as torch: min(1, max / (norm + 1e-6)); off for 0 or Infinity', () => {
  assert.equal(clipCoefficient(0.5, 1), 1);
  assert.equal(clipCoefficient(4, 1), 1 / (4 + 1e-6));
  assert.equal(clipCoefficient(4, 0), 1);
  assert.equal(clipCoefficient(4, Infinity), 1);
});

for (const impl of ['js', 'tensor'] as const) {
  test(`optimizer state round-trips through stateArrays/loadState (${impl})`, async () => {
    await initBackend('cpu');
    const mk = () => new Map([['w', tf.variable(tf.tensor([1, 2, 3], [3]), true)]]);
    const pa = mk();
    const a = new AdamW(pa, { weightDecay: 0.01, impl });
    const g = new Map<string, tf.Tensor>([['w', tf.tensor([0.1, -0.2, 0.3], [3])]]);
    a.step(g, 0.1);
    const saved = new Map((await a.stateArrays()).map((t) => [t.name, { data: Float32Array.from(t.data), shape: t.shape }]));
    const pb = mk();
    pb.get('w')!.assign(pa.get('w')!);
    const b = new AdamW(pb, { weightDecay: 0.01, impl });
    b.loadState(a.stepCount, saved);
    a.step(g, 0.05);
    b.step(g, 0.05);
    assert.deepEqual([...pb.get('w')!.dataSync()], [...pa.get('w')!.dataSync()]);
    assert.throws(() => b.loadState(1, new Map()), /lacks w\.exp_avg/);
  });
}
