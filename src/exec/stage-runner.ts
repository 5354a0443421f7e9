// Runs a built-in stage module in the current process: the code shared by the worker process
// and by in-process runs (`inProcess: true`, and `fisherflow exec-stage`).
import type { StageRunContext } from '../stage/api.js';
import { importStageModule } from '../stage/load-module.js';
import type { BuiltinContext } from './worker-protocol.js';

export interface StageCallbacks {
  log(line: string): void;
  progress(done: number, total: number, note?: string): void;
}

export async function runStageModule(stageName: string, modulePath: string, context: BuiltinContext, cb: StageCallbacks, signal: AbortSignal): Promise<void> {
  const stage = await importStageModule(modulePath);
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
