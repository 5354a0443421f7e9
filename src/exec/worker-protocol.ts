// Messages between the engine and a stage worker process (src/exec/stage-worker.ts), over the
// IPC channel of child_process.fork. Everything here is JSON.
import type { PipelineSnapshot } from '../stage/api.js';

/** What a built-in stage needs besides its code: serialisable, so a job file can carry it. */
export interface BuiltinContext {
  inputs: Record<string, unknown>;
  outDir: string;
  workDir: string;
  /** Physical GPU ids given to the stage ([] for CPU). */
  gpus: string[];
  pipeline?: PipelineSnapshot;
}

export type ToWorker =
  | { type: 'run'; stage: string; modulePath: string; context: BuiltinContext }
  | { type: 'abort' };

export type FromWorker =
  | { type: 'log'; line: string }
  | { type: 'progress'; done: number; total: number; note?: string }
  | { type: 'done' }
  | { type: 'error'; inputError: boolean; message: string; stack?: string };
