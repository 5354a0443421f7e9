// The fim computation: examples split over runners (threads), optionally in K disjoint chunks,
// summed in float32 and divided by the number of examples.
import { availableParallelism } from 'node:os';
import { StageInputError } from 'fisherflow';
import type { BackendInfo, BackendName } from '../../ml/bert/backend.js';
import { allFinite, type IndexedExample } from './fisher.js';
import { HostAccumulator } from './accumulator.js';
import { parameterShapes } from '../../ml/bert/params.js';
import { readConfig } from '../../ml/checkpoint/load.js';
import { InProcessRunner, WorkerRunner, type FisherJobOptions, type FisherRunner } from './runner.js';
import { loadNativeBlas } from '../../ml/bert/native-blas.js';

export interface FimComputeOptions extends FisherJobOptions {
  modelDir: string;
  backend: BackendName;
  /** A GPU was assigned to the stage: 'auto' tries GPU backends first. */
  gpu?: boolean;
  /** Worker threads, each with its own model; 0 = in this thread. Default: see defaultWorkers. */
  workers?: number;
  /** Threads of the native BLAS (wasm backend with fisherflow's addon); default FISHERFLOW_CPUS. */
  threads?: number;
  /** K ≥ 2: also return the Fisher of each of K disjoint, contiguous chunks of the examples. */
  chunks?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  log?: (m: string) => void;
}

export interface FimResult {
  /** Mean over examples, HF names in named_parameters order. */
  fisher: Map<string, Float32Array>;
  /** Per chunk: its mean Fisher and its number of examples. */
  chunks: Array<{ fisher: Map<string, Float32Array>; examples: number; first: number; last: number }>;
  examples: number;
  info: BackendInfo;
  workers: number;
  /** Seconds spent starting runners (threads, backend, model load) and computing. */
  startupSeconds: number;
  computeSeconds: number;
  /** CPU seconds of the whole process (all threads) while computing: robust to a loaded machine. */
  computeCpuSeconds: number;
}

export function defaultWorkers(backend: BackendName, gpu = false): number {
  // GPU and libtensorflow backends parallelise inside one op, and so does wasm with a native BLAS
  // (one model in memory, the products on every core); wasm alone and cpu use one core per thread.
  if (backend === 'webgpu' || backend === 'tensorflow' || (gpu && backend === 'auto')) return 0;
  if ((backend === 'wasm' || backend === 'auto') && loadNativeBlas()) return 0;
  return Math.min(2, availableParallelism()) > 1 ? 2 : 0;
}

/** Deals examples to n parts, longest first, so the parts get similar amounts of work. */
function deal(examples: IndexedExample[], n: number): IndexedExample[][] {
  const parts: IndexedExample[][] = Array.from({ length: n }, () => []);
  const load = new Array(n).fill(0);
  const sorted = [...examples].sort((a, b) => b.row.input_ids.length - a.row.input_ids.length);
  for (const ex of sorted) {
    let k = 0;
    for (let i = 1; i < n; i++) if (load[i] < load[k]) k = i;
    parts[k].push(ex);
    load[k] += ex.row.input_ids.length;
  }
  return parts.filter((p) => p.length > 0);
}

export async function computeFim(examples: IndexedExample[], opts: FimComputeOptions): Promise<FimResult> {
  if (examples.length === 0) throw new StageInputError('data: no examples to compute a Fisher over');
  // One thread on webgpu whatever `workers` says: the device parallelises, and each thread would
  // hold its own Dawn device and model copy.
  const nWorkers = opts.backend === 'webgpu' ? 0 : Math.min(opts.workers ?? defaultWorkers(opts.backend, opts.gpu), examples.length);
  const inProcess = nWorkers === 0;
  const shapes = parameterShapes(readConfig(opts.modelDir));
  // One set of sums that every thread adds into.
  const acc = HostAccumulator.create(shapes, !inProcess);
  const setup = {
    modelDir: opts.modelDir, backend: opts.backend, gpu: opts.gpu ?? false, threads: opts.threads, sums: acc.handle,
    fisher: { fisher: opts.fisher, samples: opts.samples, seed: opts.seed, batchSize: opts.batchSize },
  };
  const runners: FisherRunner[] = [];
  const tStart = performance.now();
  try {
    if (inProcess) runners.push(await InProcessRunner.create(setup));
    else runners.push(...(await Promise.all(Array.from({ length: nWorkers }, () => WorkerRunner.create(setup)))));
    const info = runners[0].info;
    const tReady = performance.now();
    const cpuReady = process.cpuUsage();
    opts.log?.(`backend ${info.backend}: ${info.device}; ${inProcess ? 'in-process' : `${runners.length} worker thread(s)`}`);
    if (info.note) opts.log?.(info.note);
    const K = opts.chunks && opts.chunks > 1 ? Math.min(opts.chunks, examples.length) : 1;
    const n = examples.length;
    let done = 0;
    opts.onProgress?.(0, n);
    // With chunks, `acc` holds the current chunk and `total` the running sum.
    const total = K > 1 ? HostAccumulator.create(shapes, false) : acc;
    const chunks: FimResult['chunks'] = [];
    for (let k = 0; k < K; k++) {
      const part = examples.slice(Math.floor((k * n) / K), Math.floor(((k + 1) * n) / K));
      await Promise.all(deal(part, runners.length).map((p, i) => runners[i].run(p, (m) => {
        done += m;
        opts.onProgress?.(done, n);
      }, opts.signal)));
      const bad = allFinite(acc.views);
      if (bad !== null) {
        const at = await runners[0].locateNonFinite(part);
        throw new StageInputError(at === null
          ? `the squared gradients of ${bad} are not finite`
          : `data row ${at + 1}: the gradient of this example is not finite (NaN or ∞), first seen in ${bad}`);
      }
      if (K > 1) {
        chunks.push({ fisher: acc.meanCopy(part.length), examples: part.length, first: part[0].index, last: part[part.length - 1].index });
        for (const [name, v] of acc.views) total.add(name, v);
        acc.zero();
      }
    }
    const fisher = total.views;
    for (const v of fisher.values()) for (let i = 0; i < v.length; i++) v[i] /= n;
    const computeSeconds = (performance.now() - tReady) / 1000;
    const cpu = process.cpuUsage(cpuReady);
    return {
      fisher, chunks, examples: n, info, workers: inProcess ? 0 : runners.length,
      startupSeconds: (tReady - tStart) / 1000, computeSeconds, computeCpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  } finally {
    await Promise.all(runners.map((r) => r.close()));
  }
}
