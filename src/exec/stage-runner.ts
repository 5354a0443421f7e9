// Runs a built-in stage module in the current process: the code shared by the worker process
// and by in-process runs (`inProcess: true`, and `fisherflow exec-stage`).
import { pathToFileURL } from 'node:url';
import type { StageModule, StageRunContext } from '../stage/api.js';
import type { BuiltinContext } from './worker-protocol.js';

export interface StageCallbacks {
  log(line: string): void;
  progress(done: number, total: number, note?: string): void;
}

export async function loadStageModule(modulePath: string): Promise<StageModule> {
  const mod = (await import(pathToFileURL(modulePath).href)) as { default?: StageModule };
  const stage = mod.default;
  if (!stage || typeof stage.run !== 'function') {
    throw new Error(`${modulePath} does not default-export a stage module (an object with run())`);
  }
  return stage;
}

export async function runStageModule(stageName: string, modulePath: string, context: BuiltinContext, cb: StageCallbacks, signal: AbortSignal): Promise<void> {
  const stage = await loadStageModule(modulePath);
  // Cancelled while the module loaded (a worker's imports can take seconds): do not start.
  signal.throwIfAborted();
  const ctx: StageRunContext = {
    stage: stageName,
    inputs: context.inputs,
    outDir: context.outDir,
    workDir: context.workDir,
    log: (m) => cb.log(String(m)),
    progress: (done, total, note) => cb.progress(done, total, note),
    signal,
    device: { gpus: context.gpus },
    pipeline: context.pipeline,
  };
  await stage.run(ctx);
}

export function isStageInputError(err: unknown): boolean {
  // By name, not instanceof: a stage may import api.ts through a different module URL (src vs
  // dist, tsx), which gives a different class object.
  return err instanceof Error && err.name === 'StageInputError';
}
