// One error base for everything fisherflow reports to a user without a stack trace. Each error
// knows its exit code; the CLI maps errors to output and exit status in one place (src/cli/main.ts).

/** Exit statuses of the `fisherflow` command (documented in the README). */
export const ExitCode = {
  ok: 0,
  /** A stage failed (or a `exec-stage` job did). */
  stageFailed: 1,
  /** A usage error or a pipeline error: nothing ran. */
  usage: 2,
  /** A bug in fisherflow: the only case that prints a stack trace. */
  internal: 70,
  /** Interrupted (Ctrl-C, SIGTERM, SIGHUP). */
  interrupted: 130,
} as const;

export interface SourceLocation {
  file: string;
  line: number; // 1-based
  column: number; // 1-based
}

/** Base of every error the CLI prints as a message (never a stack trace), with its exit code. */
export class FisherflowError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }

  /** The text shown after `fisherflow: ` (several lines allowed). */
  format(): string {
    return this.message;
  }
}

/**
 * The user's input is wrong (pipeline file, params, command line, job file): names where
 * (file:line:column, or a stage) and what was expected. Exit 2: nothing ran.
 */
export class UserError extends FisherflowError {
  readonly location?: SourceLocation;
  readonly hint?: string;
  constructor(message: string, location?: SourceLocation, hint?: string) {
    super(message, ExitCode.usage);
    this.location = location;
    this.hint = hint;
  }

  override format(): string {
    const where = this.location ? `${this.location.file}:${this.location.line}:${this.location.column}: ` : '';
    return `${where}${this.message}${this.hint ? `\n  hint: ${this.hint}` : ''}`;
  }
}

/** Several user errors found in one pass (e.g. every schema violation of a file). */
export class UserErrors extends UserError {
  readonly errors: UserError[];
  constructor(errors: UserError[]) {
    super([...new Set(errors.map((e) => e.format()))].join('\n'));
    this.errors = errors;
  }
  /** Each message once: the members of a foreach/matrix family repeat the same mistake at the same place. */
  override format(): string {
    return [...new Set(this.errors.map((e) => e.format()))].join('\n');
  }
}

/**
 * A file fisherflow writes could not be written (disk full, quota, read-only file system, no
 * permission). Names the file; whatever was being written is not trusted (temp files are removed,
 * the previous version stays). Exit 1: the run did not complete.
 */
export class WriteError extends FisherflowError {
  readonly path: string;
  readonly code?: string;
  constructor(path: string, cause: unknown, what?: string) {
    super(`cannot write ${what ? `${what} ` : ''}${path}: ${describeSystemError(cause)}`, ExitCode.stageFailed);
    this.path = path;
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/** "no space left on device (ENOSPC)" from Node's "ENOSPC: no space left on device, write". */
export function describeSystemError(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  const m = /^([A-Z][A-Z0-9_]+): ([^,]*)/.exec(e?.message ?? '');
  if (m) return `${m[2]} (${m[1]})`;
  return e?.message ?? String(err);
}
