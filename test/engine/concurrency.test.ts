// Two runs in one workspace: the second is refused while the first lives; a dead owner's lock is taken over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { cli, cliAsync, workspace } from '../helpers/cli.js';

test('a second run waits for no one: it is refused while the first holds the lock', async () => {
  // The first run's stage waits while 'hold' exists: the second run meets it whatever the load.
  const ws = workspace({ 'fisherflow.yaml': 'stages:\n  slow:\n    run: touch started; while [ -f hold ]; do sleep 0.05; done; echo ok > out.txt\n    outs: [out.txt]\n', hold: '' });
  const first = cliAsync(['run'], { cwd: ws });
  for (let i = 0; i < 1200 && !existsSync(join(ws, 'started')); i++) await new Promise((r) => setTimeout(r, 50));
  const second = cli(['run'], { cwd: ws });
  rmSync(join(ws, 'hold'));
  assert.equal(second.code, 2);
  assert.match(second.stderr, /another fisherflow run \(pid \d+ on .*\) holds the workspace lock/);
  const code = await new Promise((r) => first.on('exit', r));
  assert.equal(code, 0);
  assert.equal(cli(['run'], { cwd: ws }).code, 0);
});

test('a lock left by a dead process is reported and taken over', () => {
  const ws = workspace({ 'fisherflow.yaml': 'stages:\n  a:\n    run: echo ok > out.txt\n    outs: [out.txt]\n' });
  mkdirSync(join(ws, '.fisherflow'), { recursive: true });
  writeFileSync(join(ws, '.fisherflow', 'run.lock'), JSON.stringify({ pid: 999999, host: hostname(), started: '2026-01-01T00:00:00Z', command: 'fisherflow run' }));
  const r = cli(['run'], { cwd: ws });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /taking over a stale workspace lock left by pid 999999 \(no longer running/);
  assert.equal(existsSync(join(ws, '.fisherflow', 'run.lock')), false);
});
