// Runs a command stage: `bash -c COMMAND` in its own process group, output appended to the log.
//
// Public surface:
//   runCommand(opts: RunCommandOptions): Promise<CommandResult>
// Resolves (never rejects for the command's own failure) once the process has exited and its
// output is in the log file. A non-zero exit or a signal is in the result; `cancelled` is true
// when `signal` aborted it. Processes the command left behind in its group are killed when it
// exits: a stage's processes do not outlive the stage.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { openStageLog } from './log-file.js';
import { signalGroup, terminateGroup } from './process-tree.js';

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
}

export function runCommand(opts: RunCommandOptions): Promise<CommandResult> {
  const t0 = performance.now();
  const log = openStageLog(opts.logFile, opts.onLine);
  if (opts.signal?.aborted) {
    log.close();
    return Promise.resolve({ exitCode: null, signal: null, seconds: 0, cancelled: true });
  }
  return new Promise<CommandResult>((resolve) => {
    const child = spawn(opts.shell ?? 'bash', ['-c', opts.command], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let cancelled = false;
    let stopKillTimer: (() => void) | null = null;
    const onAbort = () => {
      cancelled = true;
      stopKillTimer = terminateGroup(child, opts.graceMs ?? 5000);
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
      });
    };
    child.on('error', (err) => {
      // ENOENT for a missing shell: no 'exit' follows.
      spawnError = err;
      if (child.pid === undefined) finish();
    });
    child.on('exit', (code, sig) => {
      exit = { code, sig };
      // Strays still in the group would keep the pipes open (and the stage "running").
      signalGroup(child.pid, 'SIGKILL');
    });
    child.on('close', () => {
      if (child.pid !== undefined) finish();
    });
  });
}
