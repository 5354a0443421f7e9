// runBuiltin: worker processes get device env vars, report progress/logs, and fail cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runBuiltin, type RunBuiltinOptions } from '../../src/exec/run-builtin.js';
import { StageRunError } from '../../src/exec/errors.js';
import { alive, fixtureModule } from './paths.js';

const MODULE = fixtureModule('modes-stage');

function setup(mode: string, gpus: string[] = [], extra: Partial<RunBuiltinOptions> = {}): RunBuiltinOptions {
  const dir = mkdtempSync(join(tmpdir(), 'ff-builtin-'));
  const outDir = join(dir, 'out');
  mkdirSync(outDir);
  return {
    stage: `t@${mode}`,
    modulePath: MODULE,
    context: { inputs: { mode, pidFile: join(dir, 'pid') }, outDir, workDir: join(dir, 'work'), gpus },
    logFile: join(dir, 'stage.log'),
    ...extra,
  };
}

test('worker stage gets CUDA_VISIBLE_DEVICES for its GPUs, reports progress and log lines', async () => {
  const progress: Array<[number, number, string | undefined]> = [];
  const lines: string[] = [];
  const opts = setup('ok', ['1', '3'], { onProgress: (d, t, n) => progress.push([d, t, n]), onLine: (l) => lines.push(l) });
  const r = await runBuiltin(opts);
  assert.ok(r.seconds > 0);
  const env = JSON.parse(readFileSync(join(opts.context.outDir, 'env.json'), 'utf8'));
  assert.equal(env.CUDA_VISIBLE_DEVICES, '1,3');
  assert.equal(env.FISHERFLOW_DEVICE, '1,3');
  assert.deepEqual(env.gpus, ['1', '3']);
  assert.notEqual(env.pid, process.pid, 'ran in a separate process');
  // Throttled, but the final state always arrives.
  assert.deepEqual(progress[progress.length - 1], [5, 5, 'examples']);
  for (const l of ['starting in mode ok', 'a line on stdout', 'a line on stderr']) {
    assert.ok(lines.includes(l), `onLine got ${l}`);
    assert.match(readFileSync(opts.logFile, 'utf8'), new RegExp(l));
  }
});

test('worker stage on CPU gets an empty CUDA_VISIBLE_DEVICES', async () => {
  const opts = setup('ok');
  await runBuiltin(opts);
  const env = JSON.parse(readFileSync(join(opts.context.outDir, 'env.json'), 'utf8'));
  assert.equal(env.CUDA_VISIBLE_DEVICES, '');
  assert.equal(env.FISHERFLOW_DEVICE, 'cpu');
});

test('in-process run: same contract, same process', async () => {
  const opts = setup('ok', [], { inProcess: true });
  await runBuiltin(opts);
  const env = JSON.parse(readFileSync(join(opts.context.outDir, 'env.json'), 'utf8'));
  assert.equal(env.pid, process.pid);
  assert.match(readFileSync(opts.logFile, 'utf8'), /starting in mode ok/);
  const bad = setup('input', [], { inProcess: true });
  await assert.rejects(runBuiltin(bad), (e: unknown) => e instanceof StageRunError && e.kind === 'input' && e.message === 'with.take: must be positive, got -3');
});

test('StageInputError comes back as a plain message; other errors keep their stack in the log only', async () => {
  const input = setup('input');
  await assert.rejects(runBuiltin(input), (e: unknown) => {
    assert.ok(e instanceof StageRunError);
    assert.equal(e.kind, 'input');
    assert.equal(e.message, 'with.take: must be positive, got -3');
    assert.doesNotMatch(readFileSync(input.logFile, 'utf8'), /\n\s+at /, 'no stack for input errors');
    return true;
  });
  const error = setup('error');
  await assert.rejects(runBuiltin(error), (e: unknown) => {
    assert.ok(e instanceof StageRunError);
    assert.equal(e.kind, 'error');
    assert.equal(e.message, 'stage t@error failed: matrix is singular');
    assert.doesNotMatch(e.message, /\n/);
    assert.match(readFileSync(error.logFile, 'utf8'), /Error: matrix is singular\n\s+at /);
    assert.ok(e.logTail.some((l) => /at /.test(l)));
    return true;
  });
});

test('a SIGKILLed worker (OOM-like) is reported as failed with its log tail', async () => {
  const opts = setup('oom');
  await assert.rejects(runBuiltin(opts), (e: unknown) => {
    assert.ok(e instanceof StageRunError);
    assert.equal(e.kind, 'signal');
    assert.equal(e.signal, 'SIGKILL');
    assert.equal(e.message, 'stage t@oom was killed by SIGKILL (out of memory?)');
    assert.ok(e.logTail.includes('allocating a lot of memory'), e.logTail.join('|'));
    assert.equal(e.logTail[e.logTail.length - 1], 'fisherflow: stage worker killed by SIGKILL (out of memory?)');
    return true;
  });
  const exit = setup('exit');
  await assert.rejects(runBuiltin(exit), (e: unknown) => e instanceof StageRunError && e.kind === 'exit' && e.exitCode === 3 && /worker exit code 3/.test(e.message));
});

test('cancellation: an abortable stage stops at once; a stubborn one and its children are killed', async () => {
  const ac = new AbortController();
  const opts = setup('abortable', [], { signal: ac.signal, graceMs: 5000 });
  const p = runBuiltin(opts);
  await sleep(300);
  const t0 = performance.now();
  ac.abort();
  await assert.rejects(p, (e: unknown) => e instanceof StageRunError && e.kind === 'cancelled');
  assert.ok(performance.now() - t0 < 2000, 'stopped by its abort signal, well before the grace period');

  const ac2 = new AbortController();
  const stubborn = setup('hang', [], { signal: ac2.signal, graceMs: 200 });
  const pidFile = (stubborn.context.inputs as { pidFile: string }).pidFile;
  const p2 = runBuiltin(stubborn);
  let pid = 0;
  for (let i = 0; i < 200 && !pid; i++) {
    await sleep(20);
    try { pid = Number(readFileSync(pidFile, 'utf8')); } catch { /* not yet */ }
  }
  assert.ok(pid > 0 && alive(pid));
  const t = performance.now();
  ac2.abort();
  await assert.rejects(p2, (e: unknown) => e instanceof StageRunError && e.kind === 'cancelled');
  assert.ok(performance.now() - t < 3000);
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(20);
  assert.equal(alive(pid), false, 'the sleep the stage spawned is gone');
});

test('a module that is not a stage fails with a clear message', async () => {
  const opts = setup('ok', [], { modulePath: fixtureModule('not-a-stage') });
  await assert.rejects(runBuiltin(opts), /does not default-export a stage/);
});
