// Runs fisherSums over a set of examples in this thread or in worker threads (the wasm backend
// uses one core per thread in Node, so two workers use both cores of a 2-core machine).
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { StageInputError } from 'fisherflow';
import { initBackend, type BackendInfo, type BackendName } from '../../ml/bert/backend.js';
import { BertForSequenceClassification } from '../../ml/bert/model.js';
import { fisherSums, allFinite, type FisherOptions, type IndexedExample } from './fisher.js';
import { HostAccumulator, type HostAccumulatorHandle } from './accumulator.js';

export type FisherJobOptions = Omit<FisherOptions, 'signal' | 'onExamples' | 'into'>;

export interface FisherRunner {
  info: BackendInfo;
  /** Adds the examples' squared gradients into the runner's HostAccumulator. */
  run(examples: IndexedExample[], onExamples: (n: number) => void, signal?: AbortSignal): Promise<void>;
  /** Re-runs examples one at a time; the first whose squared gradients are not finite, or null. */
  locateNonFinite(examples: IndexedExample[]): Promise<number | null>;
  close(): Promise<void>;
}

export interface RunnerSetup { modelDir: string; backend: BackendName; gpu: boolean; threads?: number; fisher: FisherJobOptions; sums: HostAccumulatorHandle }

/** GPU backends keep the sums on the device; CPU backends read each layer back (see fisherSums). */
export function accumulateMode(backend: string): 'host' | 'device' {
  return backend === 'webgpu' || backend === 'tensorflow' || backend === 'webgl' ? 'device' : 'host';
}

async function locate(model: BertForSequenceClassification, examples: IndexedExample[], opts: FisherJobOptions): Promise<number | null> {
  for (const ex of examples) {
    try {
      if (allFinite((await fisherSums(model, [ex], { ...opts, batchSize: 1 })).sums) !== null) return ex.index;
    } catch (e) {
      if (e instanceof StageInputError) return ex.index;
      throw e;
    }
  }
  return null;
}

export class InProcessRunner implements FisherRunner {
  private constructor(public info: BackendInfo, private model: BertForSequenceClassification, private opts: FisherJobOptions, private sums: HostAccumulator) {}

  static async create(setup: RunnerSetup): Promise<InProcessRunner> {
    const info = await initBackend(setup.backend, { gpu: setup.gpu, threads: setup.threads });
    const model = await BertForSequenceClassification.fromPretrained(setup.modelDir);
    return new InProcessRunner(info, model, { ...setup.fisher, accumulate: accumulateMode(info.backend) }, HostAccumulator.attach(setup.sums));
  }

  async run(examples: IndexedExample[], onExamples: (n: number) => void, signal?: AbortSignal): Promise<void> {
    await fisherSums(this.model, examples, { ...this.opts, onExamples, signal, into: this.sums });
  }

  async locateNonFinite(examples: IndexedExample[]): Promise<number | null> {
    return locate(this.model, examples, this.opts);
  }

  async close(): Promise<void> { this.model.dispose(); }
}

type FromWorker =
  | { type: 'ready'; info: BackendInfo }
  | { type: 'progress'; n: number }
  | { type: 'done'; examples: number }
  | { type: 'located'; index: number | null }
  | { type: 'error'; message: string; input: boolean };

/** Starts worker.js next to this file; from sources run through tsx, worker.ts with tsx's loader. */
function startWorker(workerData: unknown): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(fileURLToPath(new URL('./worker.js', here)), { workerData });
  // tsx's hooks do not reach worker threads by themselves (dev runs only; tsx is a devDependency).
  const url = new URL('./worker.ts', here).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

export class WorkerRunner implements FisherRunner {
  private pending: { resolve: (m: FromWorker) => void; reject: (e: Error) => void; onProgress?: (n: number) => void } | null = null;
  private failure: Error | null = null;

  private constructor(private worker: Worker, public info: BackendInfo) {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'progress') { this.pending?.onProgress?.(m.n); return; }
      const p = this.pending;
      this.pending = null;
      if (!p) return;
      if (m.type === 'error') p.reject(m.input ? new StageInputError(m.message) : new Error(m.message));
      else p.resolve(m);
    });
    const fail = (e: Error): void => {
      this.failure = e;
      const p = this.pending;
      this.pending = null;
      p?.reject(e);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => { if (code !== 0) fail(new Error(`Fisher worker exited with code ${code} (out of memory?)`)); });
  }

  static async create(setup: RunnerSetup): Promise<WorkerRunner> {
    const worker = startWorker(setup);
    const first = await new Promise<FromWorker>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`Fisher worker exited with code ${code} before it was ready`)));
    });
    if (first.type === 'error') {
      await worker.terminate();
      throw first.input ? new StageInputError(first.message) : new Error(first.message);
    }
    if (first.type !== 'ready') throw new Error('Fisher worker: unexpected first message');
    worker.removeAllListeners('exit');
    worker.removeAllListeners('error');
    return new WorkerRunner(worker, first.info);
  }

  private request(msg: unknown, onProgress?: (n: number) => void): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, onProgress };
      this.worker.postMessage(msg);
    });
  }

  async run(examples: IndexedExample[], onExamples: (n: number) => void, signal?: AbortSignal): Promise<void> {
    const abort = (): void => { void this.worker.terminate(); };
    signal?.addEventListener('abort', abort, { once: true });
    try {
      const m = await this.request({ type: 'run', examples }, onExamples);
      if (m.type !== 'done') throw new Error('Fisher worker: unexpected reply');
    } catch (e) {
      if (signal?.aborted) throw new Error('aborted');
      throw e;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  async locateNonFinite(examples: IndexedExample[]): Promise<number | null> {
    const m = await this.request({ type: 'locate', examples });
    if (m.type !== 'located') throw new Error('Fisher worker: unexpected reply');
    return m.index;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

export { locate as locateNonFiniteInModel };
