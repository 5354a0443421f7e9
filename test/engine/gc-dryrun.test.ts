// `gc` keeps what lock files reference; `run --dry-run` runs nothing and says why stages would run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cli, runJson, ran, workspace } from '../helpers/cli.js';

const PIPELINE = 'params:\n  n: 1\nstages:\n  a:\n    run: echo ${{ params.n }} > a.txt\n    outs: [a.txt]\n';

function countRecords(ws: string): number {
  const runs = join(ws, 'artifacts', 'runs');
  return existsSync(runs) ? readdirSync(runs).flatMap((d) => readdirSync(join(runs, d))).length : 0;
}

test('gc: a dry run by default; --yes removes only what no lock file references', () => {
  const ws = workspace({ 'fisherflow.yaml': PIPELINE });
  runJson(ws, ['--set', 'n=2']);
  runJson(ws); // the lock file now references n=1 only
  assert.equal(countRecords(ws), 2);
  const dry = cli(['gc'], { cwd: ws });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /would remove 1 run records and 1 objects; keeping 1 referenced by 1 lock file/);
  assert.match(dry.stdout, /dry run; pass --yes to delete/);
  assert.equal(countRecords(ws), 2);
  assert.match(cli(['gc', '--yes'], { cwd: ws }).stdout, /removing 1 run records and 1 objects/);
  assert.equal(countRecords(ws), 1);
  assert.deepEqual(ran(runJson(ws)), []);
  assert.deepEqual(ran(runJson(ws, ['--set', 'n=2'])), ['a']);
});

test('run --dry-run runs nothing and gives each stage its reason', () => {
  const ws = workspace({ 'fisherflow.yaml': PIPELINE });
  const r = cli(['run', '--dry-run'], { cwd: ws });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /would run {3}a: never ran/);
  assert.equal(existsSync(join(ws, 'a.txt')), false);
  assert.equal(countRecords(ws), 0);
  runJson(ws);
  assert.match(cli(['run', '--dry-run', '--set', 'n=3'], { cwd: ws }).stdout, /would run {3}a: param n changed from 1 to 3/);
  assert.match(cli(['run', '--dry-run'], { cwd: ws }).stdout, /up-to-date {2}a/);
});
