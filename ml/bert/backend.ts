// TensorFlow.js backend selection for the model stages.
//
// Order for 'auto': tfjs-node-gpu / tfjs-node ('tensorflow', only when installed: their install
// downloads a native library, so they are optionalDependencies), then WebGPU when the scheduler
// assigned a GPU and Dawn finds a hardware adapter (never a software renderer such as lavapipe or
// SwiftShader: on the CPU, wasm is faster), then wasm (default on CPU), then the pure-JS cpu backend.
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { cpus } from 'node:os';
import { StageInputError } from 'fisherflow';
import { enableNativeMatmul, setNativeBlasThreads, describeNativeBlas, loadNativeBlas, nativeMatmulActive, nativeBlasUnavailable } from './native-blas.js';

import { BACKEND_NAMES, type BackendName } from './backend-names.js';
export { BACKEND_NAMES, type BackendName };

import type { BackendInfo } from './backend-info.js';
export type { BackendInfo };

const require = createRequire(import.meta.url);
let current: BackendInfo | null = null;

function cpuModel(): string {
  const c = cpus();
  return `${c[0]?.model?.trim() ?? 'unknown CPU'} (${c.length} cores)`;
}

async function tryTensorflow(): Promise<BackendInfo | null> {
  // Dynamic import through a variable so that TypeScript and bundlers do not require the packages.
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try { require.resolve(pkg); } catch { continue; }
    try {
      await import(pkg);
      if (await tf.setBackend('tensorflow')) {
        await tf.ready();
        return { backend: 'tensorflow', device: pkg.endsWith('gpu') ? 'gpu (libtensorflow CUDA)' : `cpu (libtensorflow) ${cpuModel()}` };
      }
    } catch { /* a broken native install falls through to the next candidate */ }
  }
  return null;
}

async function initWasm(threads?: number): Promise<BackendInfo | null> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // In Node the wasm binaries are read from the package's dist folder; the path needs a trailing slash.
  const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  wasm.setWasmPaths(join(dist, '/'));
  if (!(await tf.setBackend('wasm'))) return null;
  await tf.ready();
  wasmSimd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  enableNativeMatmul();
  return wasmInfo(threads);
}

let wasmSimd = false;

/** The wasm backend's description, with the native BLAS library (and its thread count) if any. */
function wasmInfo(threads?: number): BackendInfo {
  const wasm = `wasm${wasmSimd ? ' simd' : ''}`;
  const native = nativeMatmulActive() ? (threads !== undefined ? setNativeBlasThreads(threads) : loadNativeBlas()) : null;
  if (!native) return { backend: 'wasm', device: `cpu (${wasm}, 1 thread) ${cpuModel()}`, blas: `none: ${nativeBlasUnavailable}` };
  const blas = describeNativeBlas(native);
  return { backend: 'wasm', device: `cpu (${wasm} + ${blas} for matrix products) ${cpuModel()}`, blas };
}

async function initCpu(): Promise<BackendInfo> {
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  await tf.ready();
  return { backend: 'cpu', device: `cpu (pure JS) ${cpuModel()}` };
}

interface DawnAdapterInfo { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean }
interface DawnAdapter { info?: DawnAdapterInfo }

/** The adapter's name as Dawn reports it: vendor, architecture, device and driver description. */
export function describeAdapter(i: DawnAdapterInfo): string {
  const parts = [i.vendor, i.architecture, i.device, i.description].filter((p): p is string => Boolean(p && p.trim()));
  return parts.join(' ').trim() || 'unnamed adapter';
}

/**
 * A CPU implementation of Vulkan/WebGPU (Mesa's lavapipe/llvmpipe, SwiftShader, WARP): correct, but
 * slower than wasm on the same CPU, so 'auto' never picks it. Dawn flags such adapters as fallback.
 */
export function isSoftwareAdapter(i: DawnAdapterInfo): boolean {
  if (i.isFallbackAdapter) return true;
  return /llvmpipe|lavapipe|swiftshader|software|warp|microsoft basic render/i.test(describeAdapter(i));
}

/**
 * Dawn (the `webgpu` package) and tfjs's WebGPU backend. `hardwareOnly` (auto): a software
 * adapter is refused with the reason. Dawn finds the Vulkan driver through the Vulkan loader
 * (libvulkan.so.1) and its ICD files (VK_DRIVER_FILES overrides where they are looked for).
 */
async function initWebgpu(opts: { hardwareOnly?: boolean } = {}): Promise<BackendInfo> {
  let webgpu: { create: (opts: string[]) => unknown; globals: Record<string, unknown> };
  try {
    webgpu = await import('webgpu') as never;
  } catch (e) {
    throw new StageInputError(`backend: webgpu needs the optional packages "webgpu" and "@tensorflow/tfjs-backend-webgpu" (${(e as Error).message})`);
  }
  Object.assign(globalThis, webgpu.globals);
  const gpu = webgpu.create([]) as { requestAdapter(o?: { powerPreference?: string }): Promise<DawnAdapter | null> };
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    const why = 'no WebGPU adapter was found (no GPU, or no Vulkan driver/loader visible to Dawn; see VK_DRIVER_FILES)';
    throw new StageInputError(opts.hardwareOnly ? why : `backend: webgpu was asked for but ${why}`);
  }
  const info = adapter.info ?? {};
  const name = describeAdapter(info);
  const software = isSoftwareAdapter(info);
  if (software && opts.hardwareOnly) throw new StageInputError(`the only WebGPU adapter is a software renderer on the CPU (${name})`);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: 'node' }, configurable: true, writable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new StageInputError(`backend: webgpu adapter ${name} found but the tfjs webgpu backend failed to initialise`);
  await tf.ready();
  const device = software ? `cpu (webgpu/Dawn on a software adapter: ${name})` : `gpu (webgpu/Dawn) ${name}`;
  return { backend: 'webgpu', device, adapter: name };
}

/** Threads for native CPU libraries: the stage's CPU slots (FISHERFLOW_CPUS, set by the executor), if known. */
export function defaultThreads(): number | undefined {
  const n = Number(process.env.FISHERFLOW_CPUS);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * Selects and initialises a backend once per process (tfjs has one global engine); later calls
 * with the same or 'auto' preference return the same backend. `threads`: for a native BLAS under
 * wasm (default: FISHERFLOW_CPUS, else the library's own default, usually every core).
 */
export async function initBackend(prefer: BackendName = 'auto', opts: { gpu?: boolean; threads?: number } = {}): Promise<BackendInfo> {
  opts = { ...opts, threads: opts.threads ?? defaultThreads() };
  if (!BACKEND_NAMES.includes(prefer)) {
    throw new StageInputError(`backend: "${String(prefer)}" is not one of ${BACKEND_NAMES.join(', ')}`);
  }
  if (current && (prefer === 'auto' || prefer === current.backend)) {
    if (tf.getBackend() !== current.backend) await tf.setBackend(current.backend);
    if (current.backend === 'wasm' && opts.threads !== undefined) current = wasmInfo(opts.threads);
    return current;
  }
  // tfjs's console notes are not the stage's: its CPU backend (also the webgpu backend's for small
  // tensors) advertises tfjs-node on first use; fisherflow logs the backend it chose, and why.
  tf.env().set('PROD', true);
  let info: BackendInfo | null = null;
  if (prefer === 'webgpu') info = await initWebgpu();
  else if (prefer === 'tensorflow') {
    info = await tryTensorflow();
    if (!info) throw new StageInputError('backend: "tensorflow" needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu, which are not installed');
  } else if (prefer === 'cpu') info = await initCpu();
  else if (prefer === 'wasm') {
    info = await initWasm(opts.threads);
    if (!info) throw new StageInputError('backend: the wasm backend failed to initialise');
  } else {
    // With a GPU assigned by the scheduler, 'auto' tries the GPU paths first and falls back.
    info = await tryTensorflow();
    let note: string | undefined;
    if (!info && opts.gpu) {
      info = await initWebgpu({ hardwareOnly: true }).catch((e: Error) => {
        note = `webgpu not used: ${e.message}`;
        return null;
      });
    }
    info ??= (await initWasm(opts.threads).catch(() => null)) ?? (await initCpu());
    if (note) info = { ...info, note };
  }
  current = info;
  return info;
}

/** The backend currently initialised by initBackend, if any. */
export function currentBackend(): BackendInfo | null { return current; }
