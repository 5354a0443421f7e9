// `fisherflow exec-stage JOB.json`: runs one stage from its job file alone, in this process.
// This is what a cluster executor submits (e.g. an sbatch script whose only line is this
// command): the job file carries the command or the stage module with its resolved inputs, the
// output and log paths; the devices come from the job or from CUDA_VISIBLE_DEVICES as the
// cluster set it.
//
// Public surface:
//   execStageFromFile(jobFile, { signal?, onEvent? }): Promise<{ result: JobResult; exitCode: number }>
//   readJobFile(jobFile): StageJob      validates the shape; errors name the file and field
// Exit codes for the CLI: 0 succeeded, 1 failed, 130 cancelled, 128+N stopped by signal N (the
// `signal` option aborted with the signal's name as its reason: SIGTERM from scancel or from
// Slurm's --signal before a time limit → 143), so a batch system sees a failure as a failure.
// With `resultFile` set in the job, the JobResultRecord is written there as JSON atomically (temp
// file, fsync, rename): a reader on another machine sees the whole record or none. With
// `progressFile`, the stage's latest progress is written there the same way, at most once a second.
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { writeFileAtomic } from '../cache/atomic-write.js';
import { UserError } from '../errors.js';
import { StageRunError } from './errors.js';
import type { JobEvent, JobResult, StageJob } from './executor.js';
import { runJobOn, toResultRecord } from './local-executor.js';

/** A job file that cannot be read or has the wrong shape (exit 2, no stack trace). */
export class JobFileError extends UserError {}

export function readJobFile(jobFile: string): StageJob {
  let job: unknown;
  try {
    job = JSON.parse(readFileSync(jobFile, 'utf8'));
  } catch (e) {
    throw new JobFileError(`${jobFile}: cannot read job file: ${(e as Error).message}`);
  }
  const need = (cond: boolean, what: string) => {
    if (!cond) throw new JobFileError(`${jobFile}: ${what}`);
  };
  const j = job as Record<string, any>;
  need(typeof j === 'object' && j !== null && !Array.isArray(j), 'expected a JSON object');
  need(typeof j.stage === 'string' && j.stage !== '', '"stage" must be a non-empty string');
  need(typeof j.cwd === 'string', '"cwd" must be a string');
  need(typeof j.logFile === 'string', '"logFile" must be a string');
  need(typeof j.work === 'object' && j.work !== null, '"work" must be an object');
  if (j.work.kind === 'command') {
    need(typeof j.work.command === 'string', '"work.command" must be a string');
  } else {
    need(j.work.kind === 'builtin', '"work.kind" must be "command" or "builtin"');
    for (const k of ['modulePath', 'outDir', 'workDir']) need(typeof j.work[k] === 'string', `"work.${k}" must be a string`);
    need(typeof j.work.inputs === 'object' && j.work.inputs !== null, '"work.inputs" must be an object');
  }
  need(j.gpus === undefined || (Array.isArray(j.gpus) && j.gpus.every((g: unknown) => typeof g === 'string')), '"gpus" must be a list of strings');
  need(j.env === undefined || (typeof j.env === 'object' && j.env !== null && !Array.isArray(j.env) && Object.values(j.env).every((v) => typeof v === 'string')), '"env" must be a map of strings');
  for (const k of ['resultFile', 'progressFile']) need(j[k] === undefined || (typeof j[k] === 'string' && j[k] !== ''), `"${k}" must be a non-empty string`);
  return j as StageJob;
}

export async function execStageFromFile(jobFile: string, opts: { signal?: AbortSignal; onEvent?: (e: JobEvent) => void } = {}): Promise<{ result: JobResult; exitCode: number }> {
  const job = readJobFile(jobFile);
  const visible = process.env.CUDA_VISIBLE_DEVICES;
  const gpus = job.gpus ?? (visible ? visible.split(',').map((s) => s.trim()).filter(Boolean) : []);
  // Already a process of its own: run built-in stages here rather than forking another worker.
  const local: StageJob = job.work.kind === 'builtin' ? { ...job, work: { ...job.work, inProcess: true } } : job;
  if (job.work.kind === 'builtin') {
    // Set before the stage module (and any CUDA library it loads) is imported.
    Object.assign(process.env, job.env ?? {});
    process.env.CUDA_DEVICE_ORDER = 'PCI_BUS_ID';
    process.env.CUDA_VISIBLE_DEVICES = gpus.join(',');
    process.env.FISHERFLOW_DEVICE = gpus.length > 0 ? gpus.join(',') : 'cpu';
  }
  const signal = opts.signal ?? new AbortController().signal;
  const progress = job.progressFile ? progressWriter(job.progressFile) : undefined;
  const onEvent = (e: JobEvent) => {
    if (e.type === 'progress') progress?.update(e);
    opts.onEvent?.(e);
  };
  let result = await runJobOn(local, gpus, signal, onEvent);
  progress?.flush();
  const stopSignal = typeof signal.reason === 'string' && signal.reason.startsWith('SIG') ? signal.reason : null;
  if (result.status === 'cancelled' && stopSignal) {
    // Say who stopped it: the record is all the submitting engine will see.
    const e = result.error;
    result = { ...result, error: new StageRunError({ stage: job.stage, kind: 'cancelled', message: `stage ${job.stage} was stopped by ${stopSignal}`, signal: stopSignal, logFile: job.logFile, logTail: e?.logTail ?? [] }) };
  }
  if (job.resultFile) writeFileAtomic(job.resultFile, JSON.stringify(toResultRecord(result), null, 2) + '\n', 'the job result', { fsync: true });
  const signalNumber = stopSignal ? (constants.signals as Record<string, number>)[stopSignal] : undefined;
  const exitCode = result.status === 'succeeded' ? 0 : result.status === 'cancelled' ? (signalNumber ? 128 + signalNumber : 130) : 1;
  return { result, exitCode };
}

/** Writes `{done, total, note}` to a file at most once a second (and once more at the end). */
function progressWriter(file: string): { update(e: { done: number; total: number; note?: string }): void; flush(): void } {
  let last = 0;
  let pending: string | null = null;
  const write = () => {
    if (pending === null) return;
    try {
      writeFileAtomic(file, pending, 'the job progress', { fsync: true });
    } catch {
      // Progress is a courtesy to the display; the stage must not fail for it.
    }
    pending = null;
    last = Date.now();
  };
  return {
    update(e) {
      pending = JSON.stringify({ done: e.done, total: e.total, ...(e.note !== undefined ? { note: e.note } : {}) });
      if (Date.now() - last >= 1000) write();
    },
    flush: write,
  };
}
