// Slurm job states, as `squeue -t all` prints them, sorted into what the executor does with them:
// wait (the job is queued), watch (it runs), or collect its result (it ended). Anything unknown
// counts as running: the result file and the job's disappearance from squeue still end it.
//
// Public surface:
//   phaseOf(state): 'waiting' | 'running' | 'ended'
//   isInfrastructureFailure(state): boolean     NODE_FAIL, BOOT_FAIL, PREEMPTED: resubmitted
//   explainEnd(entry, context): string           why a job ended without a result, for the user

export type JobPhase = 'waiting' | 'running' | 'ended';

const WAITING = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD', 'SPECIAL_EXIT']);
const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE', 'REVOKED']);
const INFRASTRUCTURE = new Set(['NODE_FAIL', 'BOOT_FAIL', 'PREEMPTED']);

export function phaseOf(state: string): JobPhase {
  // squeue may append a flag ("CANCELLED by 0" in some versions): the first word is the state.
  const s = state.split(/\s/)[0]!;
  if (WAITING.has(s)) return 'waiting';
  if (ENDED.has(s)) return 'ended';
  return 'running';
}

export function isInfrastructureFailure(state: string): boolean {
  return INFRASTRUCTURE.has(state.split(/\s/)[0]!);
}

/** One job as squeue reports it. */
export interface QueueEntry {
  id: string;
  state: string;
  /** Why it waits (Priority, Resources, ...) or ended (NonZeroExitCode, JobLaunchFailure, ...); "None" while running. */
  reason: string;
  /** Node(s) it runs or ran on; "" while pending. */
  node: string;
  /** Exit status of the batch script, once known. */
  exit: { code: number; signal: number } | null;
}

export interface EndContext {
  /** The store and the workspace the job must see. */
  storeRoot: string;
  cwd: string;
  outputFile: string;
  memory?: string;
  time?: string;
  noStoreExit: number;
}

/** A sentence on why a job ended without writing its result, from its state, reason and exit status. */
export function explainEnd(e: QueueEntry, c: EndContext): string {
  const state = e.state.split(/\s/)[0];
  const shared = `fisherflow needs the store (${c.storeRoot}) and the workspace (${c.cwd}) on a filesystem shared by this machine and the compute nodes`;
  if (e.exit?.code === c.noStoreExit) return `the node ${e.node || '?'} cannot see the job file: ${shared}`;
  if (e.reason === 'JobLaunchFailure') return `Slurm could not start the batch script on ${e.node || 'its node'} (JobLaunchFailure); usually its output file (${c.outputFile}) or working folder cannot be opened there: ${shared}`;
  switch (state) {
    case 'OUT_OF_MEMORY':
      return `the job went over its memory limit${c.memory ? ` (resources.memory: ${c.memory})` : ' (the partition default: set resources.memory)'}`;
    case 'TIMEOUT':
      return `the job hit its time limit${c.time ? ` (resources.time: ${c.time})` : ' (the partition default: set resources.time)'}`;
    case 'CANCELLED':
      return 'the job was cancelled outside fisherflow (scancel, or by an administrator)';
    case 'NODE_FAIL':
    case 'BOOT_FAIL':
      return `its node ${e.node || ''} failed`.replace('  ', ' ');
    case 'PREEMPTED':
      return 'the job was preempted';
    case 'DEADLINE':
      return 'the job missed its deadline';
  }
  if (e.exit && e.exit.signal === 9) return 'the job was killed by SIGKILL (out of memory?)';
  if (e.exit && e.exit.signal) return 'the job was killed by a signal before fisherflow wrote a result';
  if (e.exit && e.exit.code) return `the batch script exited with code ${e.exit.code} before fisherflow wrote a result (is fisherflow installed at the same path on the node? set slurm.command in fisherflow.config.yaml)`;
  return `no result file appeared; ${shared}`;
}
