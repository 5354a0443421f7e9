// How the `fisherflow` command reports an error that ends it: a FisherflowError as its message and
// exit code, anything else as an internal error with its stack (exit 70).
import { ExitCode, FisherflowError } from '../errors.js';

export function reportError(err: unknown): void {
  if (err instanceof FisherflowError) {
    process.stderr.write(`fisherflow: ${err.format().replace(/\n/g, '\nfisherflow: ')}\n`);
    process.exitCode = err.exitCode;
    return;
  }
  process.stderr.write(`fisherflow: internal error: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = ExitCode.internal;
}
