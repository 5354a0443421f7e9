// StageRunError: how a stage run fails, with a message fit for the user (never a stack trace;
// stacks go to the stage's log file) and the tail of the log.
export type StageFailureKind =
  /** The stage threw StageInputError: the user's input is wrong. */
  | 'input'
  /** The stage threw another error (its stack is in the log file). */
  | 'error'
  /** The process exited with a non-zero code without reporting an error. */
  | 'exit'
  /** The process was killed by a signal it did not ask for (e.g. the OOM killer's SIGKILL). */
  | 'signal'
  /** The run was cancelled (Ctrl-C, or another stage failed). */
  | 'cancelled';

export class StageRunError extends Error {
  readonly stage: string;
  readonly kind: StageFailureKind;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly logFile?: string;
  readonly logTail: string[];
  constructor(opts: { stage: string; kind: StageFailureKind; message: string; exitCode?: number | null; signal?: string | null; logFile?: string; logTail?: string[] }) {
    super(opts.message);
    this.name = 'StageRunError';
    this.stage = opts.stage;
    this.kind = opts.kind;
    this.exitCode = opts.exitCode ?? null;
    this.signal = opts.signal ?? null;
    this.logFile = opts.logFile;
    this.logTail = opts.logTail ?? [];
  }
}

/** "exit code 3" / "killed by SIGKILL (out of memory?)" */
export function describeExit(exitCode: number | null, signal: string | null): string {
  if (signal === 'SIGKILL') return 'killed by SIGKILL (out of memory?)';
  if (signal) return `killed by ${signal}`;
  return `exit code ${exitCode}`;
}
