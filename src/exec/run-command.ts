// Runs a command stage: `bash -c COMMAND` in its own process group, output appended to the log.
//
// Public surface:
//   runCommand(opts: RunCommandOptions): Promise<CommandResult>
// Resolves (never rejects) once the process has exited and its output is in the log file. A
// non-zero exit or a signal is in the result; `cancelled` is true when `signal` aborted it;
// `logError` when the log could not be written (the command is then stopped, or never started).
// Processes the command left behind in its group are killed when it exits, and the whole group
// when the engine dies (process-tree.ts): a stage's processes outlive neither.
import { existsSync } from 'node:fs';
import type { WriteError } from '../errors.js';
import { openStageLog } from './log-file.js';
import { spawnStageProcess, terminateGroup } from './process-tree.js';

export interface RunCommandOptions {
  stage: string;
  command: string;
  cwd: string;
  /** Added to (and overriding) the engine's environment. */
  env?: Record<string, string>;
  logFile: string;
  signal?: AbortSignal;
  /** Each complete line of stdout/stderr. */
  onLine?: (line: string) => void;
  /** Time between SIGTERM and SIGKILL on cancellation (default 5000 ms). */
  graceMs?: number;
  /** Shell (default bash; `sh` works too). */
  shell?: string;
}

export interface CommandResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
  cancelled: boolean;
  /** The log file could not be written (e.g. disk full): the command was stopped. */
  logError?: WriteError;
}

export function runCommand(opts: RunCommandOptions): Promise<CommandResult> {
  const t0 = performance.now();
  let stop: (() => void) | null = null;
  const log = openStageLog(opts.logFile, opts.onLine, () => stop?.());
  if (opts.signal?.aborted || log.writeError) {
    log.close();
    return Promise.resolve({ exitCode: null, signal: null, seconds: 0, cancelled: !log.writeError, logError: log.writeError });
  }
  return new Promise<CommandResult>((resolve) => {
    const child = spawnStageProcess(opts.stage, { shell: opts.shell ?? 'bash', command: opts.command }, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
    });
    let cancelled = false;
    let stopKillTimer: (() => void) | null = null;
    stop = () => {
      stopKillTimer ??= terminateGroup(child, opts.graceMs ?? 5000);
    };
    const onAbort = () => {
      cancelled = true;
      stop!();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout!.on('data', (d: Buffer) => log.chunk('stdout', d));
    child.stderr!.on('data', (d: Buffer) => log.chunk('stderr', d));

    let exit: { code: number | null; sig: NodeJS.Signals | null } | null = null;
    let spawnError: Error | null = null;
    const finish = () => {
      opts.signal?.removeEventListener('abort', onAbort);
      stopKillTimer?.();
      if (spawnError) {
        const why = !existsSync(opts.cwd) ? `working folder ${opts.cwd} does not exist` : spawnError.message;
        log.line(`fisherflow: could not start ${opts.shell ?? 'bash'}: ${why}`);
      }
      log.close();
      resolve({
        exitCode: exit?.code ?? (spawnError ? 127 : null),
        signal: exit?.sig ?? null,
        seconds: (performance.now() - t0) / 1000,
        cancelled,
        logError: log.writeError,
      });
    };
    child.on('error', (err) => {
      // ENOENT for a missing shell: no 'exit' follows.
      spawnError = err;
      if (child.pid === undefined) finish();
    });
    child.on('exit', (code, sig) => {
      exit = { code, sig };
    });
    child.on('close', () => {
      if (child.pid !== undefined) finish();
    });
  });
}
