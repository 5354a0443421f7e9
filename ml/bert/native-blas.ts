// Native BLAS for the wasm backend: matrix products through a CBLAS library (OpenBLAS, BLIS,
// MKL, Accelerate) loaded by fisherflow's small Node-API addon (native/blas), multi-threaded,
// on the wasm heap in place (no copies).
//
// Why: tfjs-backend-wasm runs one thread in Node and its XNNPACK matmuls reach 8–15 GFLOP/s on
// one core; OpenBLAS reaches 60–100 GFLOP/s on the same 2-core machine. Everything else (the
// elementwise ops, the tape, memory) stays on wasm, so tensors and results are the same objects.
//
// The addon is built at `npm install` when a C compiler is there (scripts/build-native.mjs); it
// links nothing and dlopen()s the library at run time. Without the addon or a library, or with
// FISHERFLOW_BLAS=none, everything runs on wasm alone. FISHERFLOW_BLAS may also name libraries
// to try (paths or sonames, comma-separated), e.g. FISHERFLOW_BLAS=libmkl_rt.so.2.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { numel } from './params.js';

interface Addon {
  load(paths: string[]): { library: string; config: string; threads: number; squares: string } | null;
  setThreads(n: number): boolean;
  sgemm(heap: ArrayBuffer, transA: boolean, transB: boolean, M: number, N: number, K: number,
    aOff: number, bOff: number, cOff: number, batch: number, strideA: number, strideB: number): void;
  squaredGradAccum(heap: ArrayBuffer, dyOff: number, xOff: number, B: number, T: number, O: number, I: number, sums: Float32Array): void;
  sumSquares(x: Float32Array): number;
  adamw(param: Float32Array, grad: Float32Array | null, expAvg: Float32Array, expAvgSq: Float32Array, rows: Int32Array | null, width: number, hyper: Float64Array): void;
  gelu(heap: ArrayBuffer, xOff: number, outOff: number, n: number): void;
  geluGrad(heap: ArrayBuffer, xOff: number, dyOff: number, outOff: number, n: number): void;
  columnSum(heap: ArrayBuffer, xOff: number, outOff: number, rows: number, cols: number): void;
}

/** The addon's optimizer kernels (ml/optim): the same arithmetic as their JavaScript loops, vectorised and threaded. */
export type NativeOptimizerKernels = Pick<Addon, 'sumSquares' | 'adamw'>;

export interface NativeBlasInfo {
  /** The library file that was loaded, e.g. libopenblas.so.0. */
  library: string;
  /** OpenBLAS's build description (version, kernel), or '' for other libraries. */
  config: string;
  threads: number;
  /** Build of the fused squared-gradient loops: 'avx2', 'x86-baseline' (not used: slower than tfjs), 'generic'. */
  squares: string;
}

// The package's own folder, through its public `fisherflow/package.json` export (ml/ imports
// nothing private from the engine).
const PACKAGE_DIR = dirname(createRequire(import.meta.url).resolve('fisherflow/package.json'));
export const ADDON_PATH = join(PACKAGE_DIR, 'native', 'blas', 'build', 'Release', 'fisherflow_blas.node');

/**
 * The addon is compiled from these files (package-relative), so they are part of the code version
 * of every stage that loads this module: the stage registry reads this line when it hashes a
 * stage's import closure (src/stage/registry.ts), and an edited blas.c reruns fim and train.
 */
export const CODE_VERSION_FILES = ['native/blas/blas.c', 'native/blas/binding.gyp', 'scripts/build-native.mjs'];

/** Optimised CBLAS libraries tried in order (not the reference libblas.so.3, which may be slow). */
const DEFAULT_LIBRARIES = process.platform === 'darwin'
  ? ['/opt/homebrew/opt/openblas/lib/libopenblas.dylib', '/usr/local/opt/openblas/lib/libopenblas.dylib',
    '/System/Library/Frameworks/Accelerate.framework/Accelerate']
  : ['libopenblas.so.0', 'libopenblas.so', 'libopenblasp.so.0', 'libblis.so.4', 'libblis.so.3', 'libmkl_rt.so.2', 'libmkl_rt.so'];

let addon: Addon | null = null;
let loaded: NativeBlasInfo | null | undefined;
let active = false;
let originalKernel: tf.KernelConfig | null = null;

/** Why the native path is not available (for logs), or null when it is. */
export let nativeBlasUnavailable: string | null = null;

/**
 * Loads the addon and a BLAS library once per process; null when either is missing or
 * FISHERFLOW_BLAS=none. Never throws: the wasm path is always there.
 */
export function loadNativeBlas(): NativeBlasInfo | null {
  if (loaded !== undefined) return loaded;
  const env = (process.env.FISHERFLOW_BLAS ?? '').trim();
  if (/^(none|off|0|false)$/i.test(env)) {
    nativeBlasUnavailable = 'FISHERFLOW_BLAS=none';
    return (loaded = null);
  }
  if (!existsSync(ADDON_PATH)) {
    nativeBlasUnavailable = `native addon not built (${ADDON_PATH}; run npm run build:native)`;
    return (loaded = null);
  }
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
    const names = env ? env.split(',').map((s) => s.trim()).filter(Boolean) : DEFAULT_LIBRARIES;
    const info = addon.load(names);
    if (!info) nativeBlasUnavailable = `no CBLAS library found (tried ${names.join(', ')}); install OpenBLAS (Debian: libopenblas0-pthread) or set FISHERFLOW_BLAS`;
    loaded = info;
  } catch (e) {
    nativeBlasUnavailable = `native addon failed to load: ${(e as Error).message}`;
    loaded = null;
  }
  return loaded;
}

/**
 * The optimizer kernels, or null: addon not built (or built before they existed), or
 * FISHERFLOW_BLAS=none. They need no BLAS library; their threads are the BLAS's (setNativeBlasThreads),
 * one without a library.
 */
export function nativeOptimizerKernels(): NativeOptimizerKernels | null {
  loadNativeBlas();
  return addon && typeof addon.adamw === 'function' && typeof addon.sumSquares === 'function' ? addon : null;
}

/** Sets the library's thread count (OpenBLAS, BLIS); returns the info with the new count. */
export function setNativeBlasThreads(n: number): NativeBlasInfo | null {
  const info = loadNativeBlas();
  if (!info || !addon) return null;
  const threads = Math.max(1, Math.floor(n));
  if (addon.setThreads(threads)) info.threads = threads;
  return info;
}

/** A short description for logs and metadata, e.g. "OpenBLAS 0.3.21 … Zen, 2 threads". */
export function describeNativeBlas(info: NativeBlasInfo): string {
  return `${info.config || info.library}${info.threads ? `, ${info.threads} thread${info.threads > 1 ? 's' : ''}` : ''}`;
}

/** True once wasm matmuls go through the native library (see enableNativeMatmul). */
export function nativeMatmulActive(): boolean {
  return active && tf.getBackend() === 'wasm';
}

interface WasmTensorData { memoryOffset: number }
interface WasmBackendLike {
  dataIdMap: { get(id: object): WasmTensorData | undefined };
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  wasm: { HEAPU8: Uint8Array };
}

function offsetOf(backend: WasmBackendLike, t: tf.TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('native matmul: tensor data not on the wasm backend');
  return d.memoryOffset;
}

/**
 * Replaces the wasm backend's BatchMatMul kernel with one that calls the native sgemm (all
 * transpose and batch layouts; broadcasting where one side has batch 1). Shapes it does not
 * handle (broadcasting across several batch dimensions) go to the original kernel.
 * Returns the library info, or null when no native library is available (nothing changes).
 */
export function enableNativeMatmul(): NativeBlasInfo | null {
  const info = loadNativeBlas();
  if (!info || !addon) return null;
  if (active) return info;
  const original = originalKernel ?? tf.getKernel('BatchMatMul', 'wasm');
  if (!original) return null;
  originalKernel = original;
  const blas = addon;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const backend = args.backend as unknown as WasmBackendLike;
    const ra = a.shape.length, rb = b.shape.length;
    const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
    const batchA = numel(outerA), batchB = numel(outerB);
    const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || K !== Kb || !(sameOuter || batchA === 1 || batchB === 1)) {
      return original.kernelFunc(args);
    }
    const batch = Math.max(batchA, batchB);
    const outer = batchA >= batchB ? outerA : outerB;
    const out = backend.makeOutput([...outer, M, N], 'float32');
    if (M * N * batch === 0) return out;
    // makeOutput may grow the wasm memory: take the heap's buffer after it.
    blas.sgemm(backend.wasm.HEAPU8.buffer as ArrayBuffer, transposeA, transposeB, M, N, K,
      offsetOf(backend, a), offsetOf(backend, b), offsetOf(backend, out), batch,
      batchA === 1 ? 0 : M * K, batchB === 1 ? 0 : K * N);
    return out;
  };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', setupFunc: original.setupFunc, disposeFunc: original.disposeFunc, kernelFunc });
  active = true;
  return info;
}

/** Puts the wasm backend's own BatchMatMul kernel back (tests compare the two paths). */
export function disableNativeMatmul(): void {
  if (!active || !originalKernel) return;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel(originalKernel);
  active = false;
}

/**
 * sums += Σ_b (dy_bᵀ x_b)² for a linear layer's per-example weight gradients, natively:
 * dy [B·T, O] and x [B·T, I] are wasm tensors, sums a Float32Array of O·I values.
 */
export function nativeSquaresUsable(): boolean {
  return nativeMatmulActive() && loaded?.squares !== 'x86-baseline';
}

export function nativeSquaredGradAccum(dy: tf.Tensor2D, x: tf.Tensor2D, B: number, sums: Float32Array): void {
  if (!addon || !nativeMatmulActive()) throw new Error('native BLAS is not active');
  const backend = tf.backend() as unknown as WasmBackendLike;
  const T = dy.shape[0] / B;
  addon.squaredGradAccum(backend.wasm.HEAPU8.buffer as ArrayBuffer, offsetOf(backend, dy), offsetOf(backend, x), B, T, dy.shape[1], x.shape[1], sums);
}

/**
 * Layer kernels of the addon registered as wasm-backend kernels: exact GELU and its gradient
 * (tfjs-backend-wasm's Erf and Exp take ~25 ns per element) and column sums (its Sum over leading
 * axes transposes first: ~1 ms per bias gradient of the demo model). Registered once; not used
 * when the addon (or wasm) is not there, and callers use tfjs ops instead.
 */
const GELU = 'FisherflowGelu';
const GELU_GRAD = 'FisherflowGeluGrad';
const COLUMN_SUM = 'FisherflowColumnSum';
let layerKernelsRegistered = false;

function registerLayerKernels(): boolean {
  if (layerKernelsRegistered) return true;
  if (!addon || typeof addon.gelu !== 'function' || typeof addon.columnSum !== 'function') return false;
  const native = addon;
  const floatInputs = (inputs: tf.NamedTensorInfoMap, names: string[]) => names.every((n) => inputs[n]?.dtype === 'float32');
  tf.registerKernel({
    kernelName: GELU, backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      if (!floatInputs(inputs, ['x'])) throw new Error(`${GELU}: float32 input expected`);
      const b = backend as unknown as WasmBackendLike;
      const x = inputs.x as tf.TensorInfo;
      const out = b.makeOutput(x.shape, 'float32');
      native.gelu(b.wasm.HEAPU8.buffer as ArrayBuffer, offsetOf(b, x), offsetOf(b, out), numel(x.shape));
      return out;
    },
  });
  tf.registerKernel({
    kernelName: GELU_GRAD, backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      if (!floatInputs(inputs, ['x', 'dy'])) throw new Error(`${GELU_GRAD}: float32 inputs expected`);
      const b = backend as unknown as WasmBackendLike;
      const x = inputs.x as tf.TensorInfo;
      const dy = inputs.dy as tf.TensorInfo;
      const out = b.makeOutput(x.shape, 'float32');
      native.geluGrad(b.wasm.HEAPU8.buffer as ArrayBuffer, offsetOf(b, x), offsetOf(b, dy), offsetOf(b, out), numel(x.shape));
      return out;
    },
  });
  tf.registerKernel({
    kernelName: COLUMN_SUM, backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      if (!floatInputs(inputs, ['x'])) throw new Error(`${COLUMN_SUM}: float32 input expected`);
      const b = backend as unknown as WasmBackendLike;
      const x = inputs.x as tf.TensorInfo;
      const cols = x.shape[x.shape.length - 1];
      const out = b.makeOutput([cols], 'float32');
      native.columnSum(b.wasm.HEAPU8.buffer as ArrayBuffer, offsetOf(b, x), offsetOf(b, out), numel(x.shape) / cols, cols);
      return out;
    },
  });
  layerKernelsRegistered = true;
  return true;
}

/** True when the active backend is wasm and the addon's layer kernels (GELU, column sums) are there. */
export function nativeLayerKernelsActive(): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  loadNativeBlas();
  return registerLayerKernels();
}

/** x·Φ(x) for a float32 wasm tensor (check nativeLayerKernelsActive first). */
export function nativeGelu(x: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(GELU, { x }, {}) as tf.Tensor;
}

/** dy·(Φ(x) + x·φ(x)), the gradient of nativeGelu (check nativeLayerKernelsActive first). */
export function nativeGeluGrad(x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(GELU_GRAD, { x, dy }, {}) as tf.Tensor;
}

/**
 * The sum over every axis but the last of a float32 tensor, [C] (check nativeLayerKernelsActive
 * first): float32, row after row, as tfjs's Sum.
 */
export function nativeColumnSum(x: tf.Tensor): tf.Tensor1D {
  return tf.engine().runKernel(COLUMN_SUM, { x }, {}) as tf.Tensor1D;
}
