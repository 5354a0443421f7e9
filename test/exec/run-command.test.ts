// runCommand: exit codes, log file and lines, cancellation of a whole process tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand } from '../../src/exec/run-command.js';
import { logTail } from '../../src/exec/log-file.js';
import { alive } from './paths.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'ff-cmd-'));

test('runCommand: output to the log file and onLine, exit code, env, cwd', async () => {
  const dir = tmp();
  const logFile = join(dir, 'logs', 'x.log');
  const lines: string[] = [];
  const r = await runCommand({
    stage: 'x', cwd: dir, logFile, env: { GREETING: 'hello' }, onLine: (l) => lines.push(l),
    command: 'echo "$GREETING from $(pwd)"; echo oops >&2; printf "no newline"; exit 3',
  });
  assert.equal(r.exitCode, 3);
  assert.equal(r.signal, null);
  assert.equal(r.cancelled, false);
  assert.ok(r.seconds > 0 && r.seconds < 10);
  assert.deepEqual(lines.sort(), [`hello from ${dir}`, 'no newline', 'oops'].sort());
  assert.deepEqual(readFileSync(logFile, 'utf8').split('\n').filter(Boolean).sort(), lines.sort());
  // Appends: a retry keeps the first attempt's output.
  await runCommand({ stage: 'x', cwd: dir, logFile, command: 'echo second' });
  assert.equal(logTail(logFile, 1)[0], 'second');
  assert.equal(logTail(logFile).length, 4);
});

test('runCommand: carriage-return redraws keep their last state', async () => {
  const dir = tmp();
  const logFile = join(dir, 'x.log');
  await runCommand({ stage: 'x', cwd: dir, logFile, command: 'printf "10%%\\r50%%\\r100%%\\n"; echo done' });
  assert.deepEqual(readFileSync(logFile, 'utf8'), '100%\ndone\n');
});

test('runCommand: cancellation kills the whole process tree', async () => {
  const dir = tmp();
  const pidFile = join(dir, 'pids');
  const ac = new AbortController();
  // Two grandchildren (one in a subshell), and a shell that ignores SIGTERM: SIGKILL must follow.
  const done = runCommand({
    stage: 'tree', cwd: dir, logFile: join(dir, 'x.log'), signal: ac.signal, graceMs: 300,
    command: `trap "" TERM; sleep 300 & echo $! > ${pidFile}; (sleep 301 & echo $! >> ${pidFile}; wait) & wait`,
  });
  let pids: number[] = [];
  for (let i = 0; i < 100 && pids.length < 2; i++) {
    await sleep(20);
    try { pids = readFileSync(pidFile, 'utf8').split('\n').filter(Boolean).map(Number); } catch { /* not yet */ }
  }
  assert.equal(pids.length, 2);
  assert.ok(pids.every(alive));
  const t = performance.now();
  ac.abort();
  const r = await done;
  assert.equal(r.cancelled, true);
  assert.ok(performance.now() - t < 3000);
  for (let i = 0; i < 50 && pids.some(alive); i++) await sleep(20);
  assert.deepEqual(pids.filter(alive), [], 'no grandchild survives');
});

test('runCommand: background processes left by a finished command are stopped', async () => {
  const dir = tmp();
  const pidFile = join(dir, 'pid');
  const r = await runCommand({ stage: 'bg', cwd: dir, logFile: join(dir, 'x.log'), command: `sleep 300 > /dev/null 2>&1 & echo $! > ${pidFile}; exit 0` });
  assert.equal(r.exitCode, 0);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(20);
  assert.equal(alive(pid), false);
});

test('runCommand: a missing shell is an exit code, not a crash', async () => {
  const dir = tmp();
  const r = await runCommand({ stage: 'x', cwd: dir, logFile: join(dir, 'x.log'), command: 'true', shell: '/nonexistent/sh' });
  assert.equal(r.exitCode, 127);
  assert.match(logTail(join(dir, 'x.log'))[0]!, /could not start/);
  const gone = await runCommand({ stage: 'x', cwd: join(dir, 'missing'), logFile: join(dir, 'y.log'), command: 'true' });
  assert.equal(gone.exitCode, 127);
  assert.match(logTail(join(dir, 'y.log'))[0]!, /working folder .*missing does not exist/);
});
