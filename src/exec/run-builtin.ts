// Runs a built-in stage: in a forked worker process (default; `worker: true` stages) or in this
// process (`inProcess: true`, for light stages and for `fisherflow exec-stage`).
//
// Public surface:
//   runBuiltin(opts: RunBuiltinOptions): Promise<{ seconds }>
// Rejects with StageRunError: kind 'input' (StageInputError: plain message, no stack), 'error'
// (other throw: message here, stack in the log file), 'exit' / 'signal' (the worker died, e.g.
// "killed by SIGKILL (out of memory?)"), 'cancelled'. Every rejection carries the log tail. A log
// that cannot be written (disk full) stops the stage: 'error', naming the log file.
// The worker gets CUDA_VISIBLE_DEVICES / FISHERFLOW_DEVICE for context.gpus (empty → CPU); it
// runs guarded like every stage process (process-tree.ts): it dies with the engine.
import { fileURLToPath } from 'node:url';
import { describeSystemError } from '../errors.js';
import { deviceEnv } from '../schedule/devices.js';
import { describeExit, StageRunError } from './errors.js';
import { logTail, openStageLog, type StageLog } from './log-file.js';
import { signalGroup, spawnStageProcess, terminateGroup } from './process-tree.js';
import { isStageInputError, runStageModule } from './stage-runner.js';
import type { BuiltinContext, FromWorker, ToWorker } from './worker-protocol.js';

export type { BuiltinContext } from './worker-protocol.js';

export interface RunBuiltinOptions {
  stage: string;
  /** Absolute path of the stage module (`stages/NAME/stage.js`, or .ts under tsx). */
  modulePath: string;
  context: BuiltinContext;
  /** Extra env for the worker, on top of the engine's and the device vars. */
  env?: Record<string, string>;
  logFile: string;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, note?: string) => void;
  onLine?: (line: string) => void;
  inProcess?: boolean;
  /** Time the stage gets to react to its abort signal before SIGTERM, then SIGKILL (default 5000 ms each). */
  graceMs?: number;
}

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
/** The worker script beside this file (dist/src/exec/stage-worker.js once compiled). */
export const STAGE_WORKER_PATH = fileURLToPath(new URL(`./stage-worker${ext}`, import.meta.url));

export async function runBuiltin(opts: RunBuiltinOptions): Promise<{ seconds: number }> {
  const t0 = performance.now();
  const onLogFailure: { stop?: () => void } = {};
  const log = openStageLog(opts.logFile, opts.onLine, () => onLogFailure.stop?.());
  try {
    if (log.writeError) throw logFailed(opts, log);
    if (opts.inProcess) await runHere(opts, log, onLogFailure);
    else await runInWorker(opts, log, onLogFailure);
  } finally {
    log.close();
  }
  return { seconds: (performance.now() - t0) / 1000 };
}

function logFailed(opts: RunBuiltinOptions, log: StageLog): StageRunError {
  return failure(opts, 'error', `stage ${opts.stage} failed: ${log.writeError!.message}`);
}

function failure(opts: RunBuiltinOptions, kind: StageRunError['kind'], message: string, extra: { exitCode?: number | null; signal?: string | null } = {}): StageRunError {
  return new StageRunError({ stage: opts.stage, kind, message, ...extra, logFile: opts.logFile, logTail: logTail(opts.logFile) });
}

/** Writes the error to the log (stack only for non-input errors) and turns it into a StageRunError. */
function stageThrew(opts: RunBuiltinOptions, log: StageLog, inputError: boolean, message: string, stack?: string): StageRunError {
  if (inputError) {
    log.line(`error: ${message}`);
    log.close();
    return failure(opts, 'input', message);
  }
  log.line(stack && stack.includes(message) ? stack : `error: ${message}${stack ? '\n' + stack : ''}`);
  log.close();
  // Node's "ENOSPC: no space left on device, write" names no file: name the folders the stage writes.
  if (/^(ENOSPC|EDQUOT|EROFS): /.test(message)) {
    return failure(opts, 'error', `stage ${opts.stage} failed: ${describeSystemError({ message })} while writing into its output folder ${opts.context.outDir} (or its work folder ${opts.context.workDir})`);
  }
  return failure(opts, 'error', `stage ${opts.stage} failed: ${message}`);
}

async function runHere(opts: RunBuiltinOptions, log: StageLog, onLogFailure: { stop?: () => void }): Promise<void> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(opts.signal!.reason);
  if (opts.signal?.aborted) throw failure(opts, 'cancelled', `stage ${opts.stage} was cancelled`);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  onLogFailure.stop = () => controller.abort(log.writeError);
  try {
    await runStageModule(opts.stage, opts.modulePath, opts.context, {
      log: (line) => log.line(line),
      progress: (d, t, n) => opts.onProgress?.(d, t, n),
    }, controller.signal);
    if (log.writeError) throw logFailed(opts, log);
  } catch (err) {
    if (log.writeError) throw logFailed(opts, log);
    if (controller.signal.aborted) {
      log.close();
      throw failure(opts, 'cancelled', `stage ${opts.stage} was cancelled`);
    }
    const e = err instanceof Error ? err : new Error(String(err));
    throw stageThrew(opts, log, isStageInputError(e), e.message, e.stack);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

function runInWorker(opts: RunBuiltinOptions, log: StageLog, onLogFailure: { stop?: () => void }): Promise<void> {
  if (opts.signal?.aborted) return Promise.reject(failure(opts, 'cancelled', `stage ${opts.stage} was cancelled`));
  return new Promise<void>((resolve, reject) => {
    // Keep loader flags (tsx), drop the test runner's and the inspector's.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--test') && !a.startsWith('--inspect'));
    const child = spawnStageProcess(opts.stage, { program: process.execPath, args: [...execArgv, STAGE_WORKER_PATH] }, {
      env: { ...process.env, ...opts.env, ...deviceEnv(opts.context.gpus) },
      ipc: true,
      serialization: 'advanced',
    });
    child.stdout!.on('data', (d: Buffer) => log.chunk('stdout', d));
    child.stderr!.on('data', (d: Buffer) => log.chunk('stderr', d));

    let outcome: FromWorker | null = null;
    let cancelled = false;
    const timers: NodeJS.Timeout[] = [];
    let stopKillTimer: (() => void) | undefined;
    onLogFailure.stop = () => {
      stopKillTimer ??= terminateGroup(child, opts.graceMs ?? 5000);
    };
    child.on('message', (msg: FromWorker) => {
      if (msg.type === 'log') log.line(msg.line);
      else if (msg.type === 'progress') opts.onProgress?.(msg.done, msg.total, msg.note);
      else outcome = msg;
    });
    const onAbort = () => {
      cancelled = true;
      const grace = opts.graceMs ?? 5000;
      if (child.connected) child.send({ type: 'abort' } satisfies ToWorker, () => {});
      timers.push(setTimeout(() => signalGroup(child.pid, 'SIGTERM'), grace));
      timers.push(setTimeout(() => signalGroup(child.pid, 'SIGKILL'), 2 * grace));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    let exit: { code: number | null; sig: NodeJS.Signals | null } | null = null;
    child.on('exit', (code, sig) => {
      exit = { code, sig };
    });
    child.on('error', (err) => {
      if (child.pid === undefined) settle(err);
    });
    child.on('close', () => settle());

    let settled = false;
    function settle(spawnError?: Error): void {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      for (const t of timers) clearTimeout(t);
      stopKillTimer?.();
      const out = outcome as FromWorker | null;
      if (log.writeError) return reject(logFailed(opts, log));
      if (spawnError) {
        log.line(`fisherflow: could not start the stage worker: ${spawnError.message}`);
        log.close();
        return reject(failure(opts, 'error', `stage ${opts.stage} failed: could not start the stage worker: ${spawnError.message}`));
      }
      if (out?.type === 'done') return resolve();
      if (cancelled) {
        log.close();
        return reject(failure(opts, 'cancelled', `stage ${opts.stage} was cancelled`));
      }
      if (out?.type === 'error') return reject(stageThrew(opts, log, out.inputError, out.message, out.stack));
      const how = describeExit(exit?.code ?? null, exit?.sig ?? null);
      log.line(`fisherflow: stage worker ${how}`);
      log.close();
      // Exit code 0 without a result: the stage called process.exit() itself.
      const message = exit?.sig ? `stage ${opts.stage} was ${how}` : `stage ${opts.stage} failed: worker ${how}${exit?.code === 0 ? ' before the stage finished' : ''}`;
      reject(failure(opts, exit?.sig ? 'signal' : 'exit', message, { exitCode: exit?.code ?? null, signal: exit?.sig ?? null }));
    }

    child.send({ type: 'run', stage: opts.stage, modulePath: opts.modulePath, context: opts.context } satisfies ToWorker);
  });
}
