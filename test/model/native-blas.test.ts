// The native BLAS path (native/blas + ml/bert/native-blas.ts): matrix products through a CBLAS
// library on the wasm heap, and the fused per-example squared weight gradients. Compared with the
// wasm backend's own kernels and with plain float64 loops here, and (through fisher.test.ts and
// model.test.ts, which run on it whenever it is available) with the PyTorch fixtures.
//
// CI installs OpenBLAS and sets FISHERFLOW_REQUIRE_NATIVE_BLAS=1, so there these tests cannot pass
// by skipping; on a machine without a C compiler or a BLAS library they are skipped with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../ml/bert/backend.js';
import {
  loadNativeBlas, nativeBlasUnavailable, enableNativeMatmul, disableNativeMatmul, nativeMatmulActive, nativeSquaredGradAccum, ADDON_PATH,
  nativeLayerKernelsActive, nativeGelu, nativeGeluGrad, nativeColumnSum,
} from '../../ml/bert/native-blas.js';
import { BertForSequenceClassification } from '../../ml/bert/model.js';
import { readTokenizedJsonl } from '../../ml/bert/batch.js';
import { fisherSums } from '../../stages/fim/fisher.js';
import { mulberry32 } from '../../ml/rng/mulberry32.js';
import { fixtureDir, repoRoot } from './paths.js';

const info = loadNativeBlas();
const skip = info ? false : `no native BLAS: ${nativeBlasUnavailable}`;

test('the native BLAS is available where CI requires it', () => {
  if (process.env.FISHERFLOW_REQUIRE_NATIVE_BLAS === '1') assert.ok(info, `FISHERFLOW_REQUIRE_NATIVE_BLAS=1 but ${nativeBlasUnavailable}`);
});

function randomTensor(shape: number[], seed: number): tf.Tensor {
  const r = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => r() * 2 - 1), shape);
}

test('native matMul equals the wasm kernel for every transpose and batch layout', { skip }, async () => {
  await initBackend('wasm');
  const cases: Array<[number[], number[], boolean, boolean]> = [
    [[7, 5], [5, 3], false, false],
    [[5, 7], [5, 3], true, false],
    [[7, 5], [3, 5], false, true],
    [[5, 7], [3, 5], true, true],
    [[2, 3, 7, 5], [2, 3, 5, 4], false, false], // attention-shaped batch
    [[2, 3, 7, 5], [2, 3, 4, 5], false, true],
    [[2, 3, 5, 7], [2, 3, 5, 4], true, false],
    [[4, 7, 5], [5, 6], false, false], // b broadcast over the batch
    [[7, 5], [4, 5, 6], false, false], // a broadcast
    [[0, 5], [5, 3], false, false], // empty
  ];
  for (const [sa, sb, ta, tb] of cases) {
    const a = randomTensor(sa, 1), b = randomTensor(sb, 2);
    enableNativeMatmul();
    assert.ok(nativeMatmulActive());
    const got = tf.matMul(a, b, ta, tb);
    disableNativeMatmul();
    const want = tf.matMul(a, b, ta, tb);
    enableNativeMatmul();
    assert.deepEqual(got.shape, want.shape, `${sa} × ${sb}`);
    const g = got.dataSync(), w = want.dataSync();
    for (let i = 0; i < w.length; i++) assert.ok(Math.abs(g[i] - w[i]) <= 1e-5 * (1 + Math.abs(w[i])), `${sa} × ${sb} (${ta}, ${tb}) at ${i}: ${g[i]} vs ${w[i]}`);
    tf.dispose([a, b, got, want]);
  }
  // K = 0: a sum of nothing is 0 (the wasm kernel leaves the output's memory as it was).
  const z = tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4]));
  assert.deepEqual([...z.dataSync()], new Array(12).fill(0));
});

test('native squared per-example weight gradients equal a float64 loop (tile edges included)', { skip }, async () => {
  await initBackend('wasm');
  for (const [B, T, O, I] of [[3, 5, 13, 37], [1, 1, 6, 16], [2, 4, 37, 32], [4, 9, 48, 64]]) {
    const dy = randomTensor([B * T, O], 3) as tf.Tensor2D, x = randomTensor([B * T, I], 4) as tf.Tensor2D;
    const sums = new Float32Array(O * I).fill(0.5);
    nativeSquaredGradAccum(dy, x, B, sums);
    const d = dy.dataSync(), xv = x.dataSync();
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < I; i++) {
        let want = 0.5;
        for (let b = 0; b < B; b++) {
          let g = 0;
          for (let t = 0; t < T; t++) g += d[(b * T + t) * O + o] * xv[(b * T + t) * I + i];
          want += g * g;
        }
        assert.ok(Math.abs(sums[o * I + i] - want) <= 2e-6 * want, `[${B},${T},${O},${I}] at (${o},${i}): ${sums[o * I + i]} vs ${want}`);
      }
    }
    tf.dispose([dy, x]);
  }
});

test('the baseline (non-AVX2) build of the squared-gradient loops gives the same sums', { skip }, () => {
  const script = `
    const b = require(${JSON.stringify(ADDON_PATH)});
    const [B, T, O, I] = [3, 7, 20, 40];
    let s = 7;
    const rnd = () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 4294967296 - 0.5; };
    const heap = new ArrayBuffer(B * T * (O + I) * 4);
    const f = new Float32Array(heap);
    for (let i = 0; i < f.length; i++) f[i] = rnd();
    const sums = new Float32Array(O * I);
    b.squaredGradAccum(heap, 0, B * T * O * 4, B, T, O, I, sums);
    console.log(JSON.stringify(Array.from(sums)));`;
  const run = (env: NodeJS.ProcessEnv) => {
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as number[];
  };
  const fast = run(process.env);
  const base = run({ ...process.env, FISHERFLOW_NATIVE_BASELINE: '1' });
  for (let i = 0; i < fast.length; i++) assert.ok(Math.abs(fast[i] - base[i]) <= 1e-5 * Math.abs(fast[i]), `${i}: ${fast[i]} vs ${base[i]}`);
});

test('the Fisher with native BLAS equals the Fisher on wasm alone', { skip }, async () => {
  await initBackend('wasm');
  const rows = await readTokenizedJsonl(join(fixtureDir(), 'data.jsonl'));
  const model = await BertForSequenceClassification.fromPretrained(join(fixtureDir(), 'tiny-bert'));
  const run = async () => (await fisherSums(model, rows.map((row, index) => ({ index, row })), { fisher: 'empirical', samples: 1, seed: 0, batchSize: 3 })).sums;
  try {
    enableNativeMatmul();
    const native = await run();
    disableNativeMatmul();
    const wasm = await run();
    enableNativeMatmul();
    // On the scale of all tensors: the attention key bias's Fisher is rounding noise (≈1e-15) on
    // both paths, its true value being 0 (softmax is shift-invariant; see docs/dev-notes-model.md).
    let scale = 0;
    for (const w of wasm.values()) for (const v of w) scale = Math.max(scale, Math.abs(v));
    for (const [name, w] of wasm) {
      const n = native.get(name)!;
      for (let i = 0; i < w.length; i++) assert.ok(Math.abs(n[i] - w[i]) <= 1e-4 * Math.abs(w[i]) + 1e-7 * scale, `${name}[${i}]: ${n[i]} vs ${w[i]}`);
    }
  } finally { model.dispose(); }
});

/** erf in float64: its Taylor series (|x| ≤ 3, ~1e-9 after cancellation), 1 - erfc's continued fraction beyond. */
function erf64(x: number): number {
  const a = Math.abs(x);
  if (a > 3) {
    let f = 0;
    for (let k = 60; k >= 1; k--) f = (k / 2) / (a + f);
    return Math.sign(x) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f));
  }
  let term = x, sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17; n++) { term *= (-x * x) / n; sum += term / (2 * n + 1); }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** The GELU test inputs: a dense sweep of [-10, 10] plus the far tails and zeros, as float32. */
function geluInputs(): Float32Array {
  const r = mulberry32(5);
  const xs = [0, -0, 1e-30, -1e-30, 30, -30, 1e6, -1e6];
  for (let i = 0; i < 20_000; i++) xs.push(r() * 20 - 10);
  for (let i = 0; i < 1_000; i++) xs.push((r() - 0.5) * 1e-3);
  return Float32Array.from(xs);
}

test('native GELU and its gradient equal the exact erf formulas (float64) to float32 precision, in both builds', { skip }, async () => {
  await initBackend('wasm');
  assert.ok(nativeLayerKernelsActive());
  const xs = geluInputs();
  const dys = Float32Array.from(xs, (_, i) => ((i * 7919) % 13) / 6 - 1);
  const x = tf.tensor1d(xs);
  const dy = tf.tensor1d(dys);
  const y = nativeGelu(x).dataSync();
  const dx = nativeGeluGrad(x, dy).dataSync();
  tf.dispose([x, dy]);
  const cdf = (v: number) => 0.5 * (1 + erf64(v * Math.SQRT1_2));
  const pdf = (v: number) => Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    const wantY = v * cdf(v);
    const wantDx = dys[i] * (cdf(v) + v * pdf(v));
    // float32 has 6e-8 relative precision; the kernels' erf is within 4e-7 absolute, exp 2 ulp.
    assert.ok(Math.abs(y[i] - wantY) <= 1e-6 * Math.max(1, Math.abs(wantY)), `gelu(${v}) = ${y[i]}, want ${wantY}`);
    assert.ok(Math.abs(dx[i] - wantDx) <= 1e-6 * Math.max(1, Math.abs(dys[i])), `gelu'(${v})·${dys[i]} = ${dx[i]}, want ${wantDx}`);
  }
  assert.ok(y[0] === 0 && y[1] === 0);
  assert.equal(y[4], 30);
  assert.ok(y[5] === 0); // -0, as x·0.5·(1 + erf) gives in float32 (and torch)
  // The baseline (non-AVX2) loops, straight on a heap buffer in a child: the same values within
  // float32 rounding (the AVX2 build may fuse multiply-adds).
  const script = `
    const b = require(${JSON.stringify(ADDON_PATH)});
    const xs = Float32Array.from(${JSON.stringify(Array.from(xs.subarray(0, 4000)))});
    const n = xs.length, heap = new ArrayBuffer(n * 16), f = new Float32Array(heap);
    f.set(xs, 0);
    for (let i = 0; i < n; i++) f[n + i] = 1;
    b.gelu(heap, 0, 8 * n, n);
    b.geluGrad(heap, 0, 4 * n, 12 * n, n);
    console.log(JSON.stringify([Array.from(f.subarray(2 * n, 3 * n)), Array.from(f.subarray(3 * n))]));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, FISHERFLOW_NATIVE_BASELINE: '1' } });
  assert.equal(r.status, 0, r.stderr);
  const [baseY, baseD] = JSON.parse(r.stdout) as [number[], number[]];
  for (let i = 0; i < baseY.length; i++) {
    const v = xs[i];
    assert.ok(Math.abs(baseY[i] - v * cdf(v)) <= 1e-6 * Math.max(1, Math.abs(v)), `baseline gelu(${v}) = ${baseY[i]}`);
    assert.ok(Math.abs(baseD[i] - (cdf(v) + v * pdf(v))) <= 1e-6, `baseline gelu'(${v}) = ${baseD[i]}`);
  }
});

test('native column sums equal a float32 row-after-row loop bit for bit (ranks 2 and 3, edge widths)', { skip }, async () => {
  await initBackend('wasm');
  assert.ok(nativeLayerKernelsActive());
  for (const shape of [[1, 1], [5, 7], [3, 11, 64], [97, 300]]) {
    const x = randomTensor(shape, shape.reduce((a, b) => a * b, 1));
    const xs = x.dataSync() as Float32Array;
    const cols = shape[shape.length - 1];
    const want = new Float32Array(cols);
    for (let r = 0; r < xs.length / cols; r++) for (let j = 0; j < cols; j++) want[j] = Math.fround(want[j] + xs[r * cols + j]);
    const got = nativeColumnSum(x);
    assert.deepEqual(got.shape, [cols]);
    assert.deepEqual(got.dataSync(), want, `shape ${shape}`);
    tf.dispose([x, got]);
  }
});

test('bad operands give an error, not a crash', { skip }, () => {
  // In a child process: a crash there fails this test instead of the runner.
  const r = spawnSync(process.execPath, ['-e', `
    const b = require(${JSON.stringify(ADDON_PATH)});
    b.load(${JSON.stringify([info?.library])});
    const heap = new ArrayBuffer(64);
    const tries = [
      () => b.sgemm(heap, false, false, 4, 4, 4, 0, 0, 1 << 20, 1, 0, 0),
      () => b.sgemm(heap, false, false, 2, 2, 2, 2, 0, 0, 1, 0, 0),
      () => b.squaredGradAccum(heap, 0, 0, 1, 4, 4, 4, new Float32Array(15)),
      () => b.squaredGradAccum(heap, 0, 0, 1, 8, 4, 4, new Float32Array(16)),
      () => b.sgemm({}, false, false, 1, 1, 1, 0, 0, 0, 1, 0, 0),
      () => b.columnSum(heap, 0, 0, 100, 100),
      () => b.columnSum(heap, 0, 8, 2, 4),
    ];
    console.log(JSON.stringify(tries.map((f) => { try { f(); return 'no error'; } catch (e) { return e.message; } })));
  `], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const msgs = JSON.parse(r.stdout) as string[];
  assert.deepEqual(msgs.map((m) => /outside the heap|wrong length|ArrayBuffer|overlaps/.test(m)), [true, true, true, true, true, true, true], msgs.join(' | '));
});

test('FISHERFLOW_BLAS=none keeps everything on wasm and says so in the backend description', () => {
  const script = `
    const { initBackend } = await import(${JSON.stringify(join(repoRoot(), 'dist', 'ml', 'bert', 'backend.js'))});
    const info = await initBackend('wasm');
    console.log(JSON.stringify(info));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, FISHERFLOW_BLAS: 'none' } });
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { backend: string; device: string; blas: string };
  assert.equal(out.backend, 'wasm');
  assert.match(out.blas, /^none: FISHERFLOW_BLAS=none/);
  assert.match(out.device, /1 thread/);
});
