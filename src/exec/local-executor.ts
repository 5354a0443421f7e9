// LocalExecutor: runs stage jobs on this machine through a ResourcePool.
//
// Public surface:
//   new LocalExecutor({ pool, graceMs? })
//   executor.check(job): string | null
//   executor.submit(job, signal?): JobHandle     (see executor.ts)
//   resourceNeed(stage, resources?): ResourceNeed  pipeline `resources:` → pool request
//   toResultRecord(result): JobResultRecord
import { deviceEnv, parseMemory } from '../schedule/devices.js';
import { ResourceError, type Lease, type ResourceNeed, type ResourcePool } from '../schedule/resources.js';
import type { ResourceRequest } from '../stage/api.js';
import { describeExit, StageRunError } from './errors.js';
import type { Executor, JobEvent, JobHandle, JobResult, JobResultRecord, StageJob } from './executor.js';
import { jobHandle } from './job-handle.js';
import { logTail } from './log-file.js';
import { runBuiltin } from './run-builtin.js';
import { runCommand } from './run-command.js';

export function resourceNeed(stage: string, r: ResourceRequest = {}): ResourceNeed {
  return {
    stage,
    cpu: r.cpu,
    gpu: r.gpu,
    gpuMemoryMiB: r.gpu_memory !== undefined ? parseMemory(r.gpu_memory, `stage ${stage}: resources.gpu_memory`) : undefined,
  };
}

export function toResultRecord(r: JobResult): JobResultRecord {
  const rec: JobResultRecord = { stage: r.stage, status: r.status, seconds: r.seconds, gpus: r.gpus };
  if (r.error) rec.error = { kind: r.error.kind, message: r.error.message, exitCode: r.error.exitCode, signal: r.error.signal, logTail: r.error.logTail };
  return rec;
}

/**
 * Runs one job on the given devices, without a pool: used by LocalExecutor once it holds a lease,
 * and by exec-stage where the devices were assigned by someone else (Slurm).
 */
export async function runJobOn(job: StageJob, gpus: string[], signal: AbortSignal, emit: (e: JobEvent) => void, graceMs?: number): Promise<JobResult> {
  const t0 = performance.now();
  const stage = job.stage;
  const result = (status: JobResult['status'], error?: StageRunError): JobResult => ({ stage, status, seconds: (performance.now() - t0) / 1000, gpus, error });
  emit({ type: 'start', stage, gpus });
  const onLine = (line: string) => emit({ type: 'log', stage, line });
  const w = job.work;
  if (w.kind === 'command') {
    const r = await runCommand({
      stage, command: w.command, shell: w.shell, cwd: job.cwd, logFile: job.logFile, signal, onLine, graceMs,
      env: { ...job.env, ...deviceEnv(gpus) },
    });
    if (r.logError) return result('failed', new StageRunError({ stage, kind: 'error', message: `stage ${stage} failed: ${r.logError.message}`, logFile: job.logFile, logTail: logTail(job.logFile) }));
    if (r.cancelled) return result('cancelled', new StageRunError({ stage, kind: 'cancelled', message: `stage ${stage} was cancelled`, logFile: job.logFile, logTail: logTail(job.logFile) }));
    if (r.exitCode === 0) return result('succeeded');
    const how = describeExit(r.exitCode, r.signal);
    return result('failed', new StageRunError({
      stage, kind: r.signal ? 'signal' : 'exit', exitCode: r.exitCode, signal: r.signal,
      message: `stage ${stage} ${r.signal ? 'was ' : 'failed: '}${how}`, logFile: job.logFile, logTail: logTail(job.logFile),
    }));
  }
  try {
    await runBuiltin({
      stage, modulePath: w.modulePath, logFile: job.logFile, signal, onLine, graceMs, inProcess: w.inProcess, env: job.env,
      context: { inputs: w.inputs, outDir: w.outDir, workDir: w.workDir, gpus, pipeline: w.pipeline },
      onProgress: (done, total, note) => emit({ type: 'progress', stage, done, total, note }),
    });
    return result('succeeded');
  } catch (err) {
    const e = err instanceof StageRunError ? err : new StageRunError({ stage, kind: 'error', message: `stage ${stage} failed: ${(err as Error)?.message ?? err}`, logFile: job.logFile, logTail: logTail(job.logFile) });
    return result(e.kind === 'cancelled' ? 'cancelled' : 'failed', e);
  }
}

export class LocalExecutor implements Executor {
  private readonly pool: ResourcePool;
  private readonly graceMs?: number;

  constructor(opts: { pool: ResourcePool; graceMs?: number }) {
    this.pool = opts.pool;
    this.graceMs = opts.graceMs;
  }

  check(job: StageJob): string | null {
    try {
      return this.pool.check(resourceNeed(job.stage, job.resources));
    } catch (e) {
      return (e as Error).message;
    }
  }

  submit(job: StageJob, signal?: AbortSignal): JobHandle {
    return jobHandle(job.stage, signal, async (jobSignal, emit) => {
      const t0 = performance.now();
      const never = (s: JobResult['status'], error: StageRunError): JobResult => ({ stage: job.stage, status: s, seconds: (performance.now() - t0) / 1000, gpus: [], error });
      let lease: Lease;
      try {
        lease = await this.pool.acquire(resourceNeed(job.stage, job.resources), jobSignal);
      } catch (err) {
        if (jobSignal.aborted) return never('cancelled', new StageRunError({ stage: job.stage, kind: 'cancelled', message: `stage ${job.stage} was cancelled before it started` }));
        const message = err instanceof ResourceError || err instanceof Error ? err.message : String(err);
        return never('failed', new StageRunError({ stage: job.stage, kind: 'input', message }));
      }
      try {
        // FISHERFLOW_CPUS: the CPU slots the stage holds, so it can size its thread pools to them.
        const leased: StageJob = { ...job, env: { ...job.env, FISHERFLOW_CPUS: String(lease.cpu) } };
        return await runJobOn(leased, lease.gpus, jobSignal, emit, this.graceMs);
      } finally {
        lease.release();
      }
    });
  }
}
