// A JobHandle around an executor's own way of running a job: event listeners, the status, and
// cancellation tied to the caller's signal. Shared by LocalExecutor and SlurmExecutor.
import { setMaxListeners } from 'node:events';
import type { JobEvent, JobHandle, JobResult, JobStatus } from './executor.js';

/** `run` gets the job's own signal (aborted by `cancel()` or by `signal`) and an emitter for its events. */
export function jobHandle(stage: string, signal: AbortSignal | undefined, run: (signal: AbortSignal, emit: (e: JobEvent) => void) => Promise<JobResult>): JobHandle {
  const ac = new AbortController();
  const onOuterAbort = () => ac.abort(signal!.reason);
  // Every job of a run listens to the run's signal: hundreds at once (a Slurm queue) are no leak.
  if (signal) setMaxListeners(0, signal);
  if (signal?.aborted) ac.abort(signal.reason);
  else signal?.addEventListener('abort', onOuterAbort, { once: true });
  const listeners = new Set<(e: JobEvent) => void>();
  let status: JobStatus = 'queued';
  const emit = (e: JobEvent) => {
    if (e.type === 'start') status = 'running';
    for (const l of listeners) l(e);
  };
  const done = run(ac.signal, emit).then((r) => {
    status = r.status;
    signal?.removeEventListener('abort', onOuterAbort);
    return r;
  });
  return {
    stage,
    get status() { return status; },
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    done,
    cancel: () => ac.abort(new Error('cancelled')),
  };
}
