// The optimizer's native kernels (native/blas: sumSquares, adamw) against their JavaScript loops
// (ml/optim): the same bits for dense and row-sparse gradients and for 1 or 2 threads; and a
// row-sparse gradient updates a parameter exactly as the same gradient written out dense does
// (rows without a gradient still decay: not "lazy" Adam).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../ml/bert/backend.js';
import { nativeOptimizerKernels, nativeBlasUnavailable, setNativeBlasThreads } from '../../ml/bert/native-blas.js';
import { AdamW } from '../../ml/optim/adamw.js';
import { sumOfSquaresJs } from '../../ml/optim/clip.js';
import { denseValues, type Gradient, type RowSparseGradient } from '../../ml/optim/gradient.js';
import { mulberry32 } from '../../ml/rng/mulberry32.js';

const kernels = nativeOptimizerKernels();
const skip = kernels ? false : `native optimizer kernels not available: ${nativeBlasUnavailable}`;

/** Values over many magnitudes, some exact zeros: rounding differences would show. */
function randomValues(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rand() < 0.05 ? 0 : (rand() - 0.5) * 10 ** Math.floor(rand() * 8 - 5)));
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('sumSquares: native equals the JS loop bit for bit (tails, several blocks, 1 and 2 threads)', { skip }, () => {
  for (const threads of [1, 2]) {
    setNativeBlasThreads(threads);
    for (const n of [0, 1, 7, 8, 13, 65536, 65536 * 3 + 5, 300_001]) {
      const x = randomValues(n, n + 1);
      assert.equal(kernels!.sumSquares(x), sumOfSquaresJs(x), `n = ${n}, ${threads} threads`);
    }
  }
});

/** Sorted unique rows of a [rows, width] table (never its last 10) and random gradient rows for them. */
function rowSparse(rows: number, width: number, count: number, seed: number): RowSparseGradient {
  const rand = mulberry32(seed);
  const ids = new Set<number>();
  while (ids.size < count) ids.add(Math.floor(rand() * (rows - 10)));
  const sorted = Int32Array.from(ids).sort();
  return { shape: [rows, width], rows: sorted, values: randomValues(count * width, seed + 1) };
}

test('AdamW: native equals the JS loop and dense equals row-sparse, bit for bit (1 and 2 threads)', { skip }, async () => {
  await initBackend('wasm');
  // An embedding-like table big enough for the kernels to use threads, a matrix and a bias (no decay).
  const shapes: Record<string, [number, number] | [number]> = { 'emb.weight': [600, 512], 'dense.weight': [33, 7], 'dense.bias': [7] };
  const make = () => new Map(Object.entries(shapes).map(([n, s], i) => [n, tf.variable(tf.tensor(randomValues(s.reduce((a, b) => a * b, 1), 10 + i), s), true)]));
  for (const threads of [1, 2]) {
    setNativeBlasThreads(threads);
    const runs = { native: make(), js: make(), nativeDense: make() };
    const opts = { native: new AdamW(runs.native, { weightDecay: 0.01, impl: 'native' }), js: new AdamW(runs.js, { weightDecay: 0.01, impl: 'js' }), nativeDense: new AdamW(runs.nativeDense, { weightDecay: 0.01, impl: 'native' }) };
    // lr 0 first (a warm-up's first step), then clipped and unclipped steps.
    const steps = [{ lr: 0, scale: 1 }, { lr: 1e-3, scale: 0.37 }, { lr: 5e-4, scale: 1 }, { lr: 2e-4, scale: 0.9 }];
    steps.forEach(({ lr, scale }, t) => {
      const emb = rowSparse(600, 512, 40, 100 + t);
      const dense = { 'dense.weight': tf.tensor(randomValues(33 * 7, 200 + t), [33, 7]), 'dense.bias': tf.tensor(randomValues(7, 300 + t), [7]) };
      const sparseGrads = new Map<string, Gradient>([['emb.weight', emb], ...Object.entries(dense)]);
      const embDense = tf.tensor(denseValues(emb), emb.shape);
      const denseGrads = new Map<string, Gradient>([['emb.weight', embDense], ...Object.entries(dense)]);
      opts.native.step(sparseGrads, lr, scale);
      opts.js.step(sparseGrads, lr, scale);
      opts.nativeDense.step(denseGrads, lr, scale);
      embDense.dispose();
      for (const g of Object.values(dense)) g.dispose();
      for (const name of Object.keys(shapes)) {
        const p = bits(runs.native.get(name)!.dataSync() as Float32Array);
        assert.ok(p.equals(bits(runs.js.get(name)!.dataSync() as Float32Array)), `${name} after step ${t + 1}: native vs js (${threads} threads)`);
        assert.ok(p.equals(bits(runs.nativeDense.get(name)!.dataSync() as Float32Array)), `${name} after step ${t + 1}: row-sparse vs dense (${threads} threads)`);
      }
    });
    const state = async (o: AdamW) => (await o.stateArrays()).map((s) => bits(s.data));
    const [a, b, c] = [await state(opts.native), await state(opts.js), await state(opts.nativeDense)];
    a.forEach((m, i) => assert.ok(m.equals(b[i]) && m.equals(c[i]), `moment ${i}`));
    // Rows never in a gradient moved too (weight decay): not lazy Adam.
    const before = make().get('emb.weight')!;
    const untouched = before.dataSync()[599 * 512];
    assert.notEqual(runs.native.get('emb.weight')!.dataSync()[599 * 512], untouched);
    before.dispose();
    for (const run of Object.values(runs)) for (const p of run.values()) p.dispose();
    for (const o of Object.values(opts)) o.dispose();
  }
});
