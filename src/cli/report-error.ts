// How the `fisherflow` command reports an error that ends it: a FisherflowError as its message and
// exit code, a storage failure (disk full, read-only) as a message (exit 1), anything else as an
// internal error with its stack (exit 70).
import { describeSystemError, ExitCode, FisherflowError } from '../errors.js';

const STORAGE_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO']);

export function reportError(err: unknown): void {
  if (err instanceof FisherflowError) {
    process.stderr.write(`fisherflow: ${err.format().replace(/\n/g, '\nfisherflow: ')}\n`);
    process.exitCode = err.exitCode;
    return;
  }
  // A storage failure where no caller named the file: still a message, not a stack trace.
  const sys = err as NodeJS.ErrnoException;
  if (sys && typeof sys.code === 'string' && STORAGE_ERRORS.has(sys.code)) {
    process.stderr.write(`fisherflow: ${sys.path ? `${sys.path}: ` : ''}${describeSystemError(sys)}\n`);
    process.exitCode = ExitCode.stageFailed;
    return;
  }
  process.stderr.write(`fisherflow: internal error: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = ExitCode.internal;
}
