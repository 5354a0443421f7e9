// Entry point of a stage worker process (forked by runBuiltin). Receives one `run` message, runs
// the stage with log/progress sent back over IPC, reports done or error, and exits. The device
// env vars (CUDA_VISIBLE_DEVICES, FISHERFLOW_DEVICE) were set by the parent before fork, so they
// are in place before the stage's module (and any CUDA library) loads.
import { isStageInputError, runStageModule } from './stage-runner.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

const controller = new AbortController();
let started = false;
// Progress can be called per example; at most one message per interval reaches the parent.
const PROGRESS_INTERVAL_MS = 100;
let lastProgress = 0;

function send(msg: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

process.on('message', (msg: ToWorker) => {
  if (msg.type === 'abort') {
    controller.abort(new Error('cancelled'));
    return;
  }
  if (msg.type !== 'run' || started) return;
  started = true;
  // Names the process in `ps` and in nvidia-smi's process list.
  process.title = `fisherflow-stage ${msg.stage}`;
  void (async () => {
    let exitCode = 0;
    try {
      await runStageModule(msg.stage, msg.modulePath, msg.context, {
        log: (line) => void send({ type: 'log', line }),
        progress: (done, total, note) => {
          const now = Date.now();
          if (done < total && now - lastProgress < PROGRESS_INTERVAL_MS) return;
          lastProgress = now;
          void send({ type: 'progress', done, total, note });
        },
      }, controller.signal);
      await send({ type: 'done' });
    } catch (err) {
      exitCode = 1;
      const e = err instanceof Error ? err : new Error(String(err));
      await send({ type: 'error', inputError: isStageInputError(e), message: e.message, stack: e.stack });
    }
    // Exit even if the stage left timers or handles behind (e.g. a thread pool).
    process.exit(exitCode);
  })();
});

// The parent went away (engine killed): nobody will collect the result.
process.on('disconnect', () => {
  if (!started) process.exit(1);
  controller.abort(new Error('engine disconnected'));
  setTimeout(() => process.exit(1), 10_000).unref();
});
