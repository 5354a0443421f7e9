// The record cache (.fisherflow/record-cache.json) must never hide a change in the store: a
// removed run record, a replaced one or a damaged object is seen as without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, ran, runJson, workspace } from '../helpers/cli.js';

const PIPELINE = 'stages:\n  a:\n    run: cat in.txt > a.txt\n    deps: [in.txt]\n    outs: [a.txt]\n  b:\n    run: cat a.txt a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n';

function recordFile(ws: string, stage: string): string {
  const key = JSON.parse(readFileSync(join(ws, 'fisherflow.lock'), 'utf8')).stages[stage].key as string;
  return join(ws, 'artifacts', 'runs', key.slice(0, 2), `${key}.json`);
}

test('a run record removed after it was cached is missed, and the stage reruns', () => {
  const ws = workspace({ 'fisherflow.yaml': PIPELINE, 'in.txt': 'x\n' });
  runJson(ws);
  assert.match(cli(['status'], { cwd: ws }).stdout, /2 up to date, 0 stale/);
  assert.ok(existsSync(join(ws, '.fisherflow', 'record-cache.json')));
  rmSync(recordFile(ws, 'b'));
  assert.match(cli(['status'], { cwd: ws }).stdout, /stale {7}b\n {14}- its result is missing from the store/);
  assert.deepEqual(ran(runJson(ws)), ['b']);
  assert.match(cli(['status'], { cwd: ws }).stdout, /2 up to date, 0 stale/);
});

test('a damaged object of a cached record is detected; a garbage cache file is ignored', () => {
  const ws = workspace({ 'fisherflow.yaml': PIPELINE, 'in.txt': 'x\n' });
  runJson(ws);
  cli(['status'], { cwd: ws });
  const rec = JSON.parse(readFileSync(recordFile(ws, 'a'), 'utf8'));
  const obj = join(ws, 'artifacts', 'objects', rec.tree.slice(0, 2), rec.tree.slice(2), 'a.txt');
  chmodSync(obj, 0o644);
  writeFileSync(obj, 'y\n');
  assert.match(cli(['status'], { cwd: ws }).stdout, /stale {7}a\n {14}- store entry a.txt was modified/);
  assert.deepEqual(ran(runJson(ws)), ['a']);
  writeFileSync(join(ws, '.fisherflow', 'record-cache.json'), '{"format":1,"store":');
  assert.match(cli(['status'], { cwd: ws }).stdout, /2 up to date, 0 stale/);
  assert.deepEqual(ran(runJson(ws)), []);
});
