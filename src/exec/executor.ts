// The executor interface: what the run loop needs from "something that runs a stage".
// LocalExecutor (local-executor.ts) runs on this machine; SlurmExecutor (slurm/slurm-executor.ts)
// submits `fisherflow exec-stage JOB.json` as a batch job instead, since a StageJob is plain JSON
// and carries all a stage needs (see exec-stage.ts).
import type { PipelineSnapshot, ResourceRequest } from '../stage/api.js';
import type { StageRunError } from './errors.js';

/** A command stage: `bash -c command`. */
export interface CommandWork {
  kind: 'command';
  command: string;
  shell?: string;
}

/** A built-in stage module with its resolved inputs. */
export interface BuiltinWork {
  kind: 'builtin';
  /** Absolute path of `stages/NAME/stage.js`. */
  modulePath: string;
  inputs: Record<string, unknown>;
  outDir: string;
  workDir: string;
  pipeline?: PipelineSnapshot;
  /** Run in the engine process instead of a worker (stages without `worker: true`). */
  inProcess?: boolean;
}

/** Everything needed to run one stage attempt. JSON-serialisable. */
export interface StageJob {
  stage: string;
  work: CommandWork | BuiltinWork;
  /** Working folder of a command (the pipeline file's folder). */
  cwd: string;
  /** Extra environment (the device vars are added by the executor). */
  env?: Record<string, string>;
  /** As in the pipeline: `{ cpu, gpu, gpu_memory: "20GB" }`. */
  resources?: ResourceRequest;
  /** Appended to; lives beside the stage's result. */
  logFile: string;
  /** exec-stage only: GPUs already assigned (else taken from CUDA_VISIBLE_DEVICES). */
  gpus?: string[];
  /** exec-stage only: where to write the JobResultRecord as JSON. */
  resultFile?: string;
  /** exec-stage only: where to keep the stage's latest progress `{done, total, note?}` as JSON. */
  progressFile?: string;
}

/** Events a running job streams; shaped like the display's events so they can pass straight on. */
export type JobEvent =
  /** Waiting in a batch queue (not in this engine's own pool): `detail` says where and why, e.g. "Slurm job 12 PENDING (Resources)". */
  | { type: 'queued'; stage: string; detail: string }
  /** `where`: the machine and batch job, when not this machine (e.g. "node gpu07, Slurm job 12"). */
  | { type: 'start'; stage: string; gpus: string[]; where?: string }
  | { type: 'progress'; stage: string; done: number; total: number; note?: string }
  | { type: 'log'; stage: string; line: string }
  /** A remark for the user (e.g. a resubmission after a node failure). */
  | { type: 'note'; stage: string; message: string };

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobResult {
  stage: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  seconds: number;
  /** Devices it ran on ([] for CPU, or if it never started). */
  gpus: string[];
  /** For failed (and cancelled) jobs: a user-facing message and the log tail. */
  error?: StageRunError;
}

/** JobResult as written by exec-stage (JSON). */
export interface JobResultRecord {
  stage: string;
  status: JobResult['status'];
  seconds: number;
  gpus: string[];
  error?: { kind: StageRunError['kind']; message: string; exitCode: number | null; signal: string | null; logTail: string[] };
}

export interface JobHandle {
  readonly stage: string;
  readonly status: JobStatus;
  /** Subscribe to start/progress/log events; returns an unsubscribe function. */
  on(listener: (event: JobEvent) => void): () => void;
  /** Settles when the job ends; never rejects. */
  readonly done: Promise<JobResult>;
  /** Stops the job (waiting or running); its result becomes 'cancelled'. */
  cancel(): void;
}

export interface Executor {
  /** Why the job can never run here (e.g. needs a GPU and there is none), naming the stage; else null. */
  check(job: StageJob): string | null;
  submit(job: StageJob, signal?: AbortSignal): JobHandle;
}
