// The no-op fast path must never hide a change: every input the keys depend on invalidates it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, runJson, ran, workspace } from '../helpers/cli.js';

const PIPELINE = `params:
  n: 1
stages:
  a:
    run: cat in.txt > a.txt && echo "\${{ params.n }} $GREETING" >> a.txt
    deps: [in.txt, dir]
    env: [GREETING]
    outs: [a.txt]
  b:
    uses: write
    with: { text: "n=\${{ params.n }}" }
`;

function fresh() {
  const ws = workspace({ 'fisherflow.yaml': PIPELINE, 'in.txt': 'one\n' });
  mkdirSync(join(ws, 'dir', 'sub'), { recursive: true });
  writeFileSync(join(ws, 'dir', 'sub', 'x.txt'), 'x');
  return ws;
}

test('a no-op run answers from the fast path with the same result as a full plan', () => {
  const ws = fresh();
  const env = { GREETING: 'hi' };
  assert.deepEqual(ran(runJson(ws, [], env)), ['a', 'b']);
  assert.ok(existsSync(join(ws, '.fisherflow', 'fast-path')), 'snapshot written');
  const fast = cli(['run', '--json'], { cwd: ws, env }).stdout;
  const full = cli(['run', '--json'], { cwd: ws, env: { ...env, FISHERFLOW_NO_FAST_PATH: '1' } }).stdout;
  assert.deepEqual(JSON.parse(fast), JSON.parse(full));
  const statusFast = cli(['status', '--json'], { cwd: ws, env }).stdout;
  const statusFull = cli(['status', '--json'], { cwd: ws, env: { ...env, FISHERFLOW_NO_FAST_PATH: '1' } }).stdout;
  assert.deepEqual(JSON.parse(statusFast), JSON.parse(statusFull));
});

test('the fast path sees every kind of change', () => {
  const ws = fresh();
  const env = { GREETING: 'hi' };
  runJson(ws, [], env);
  // A dep edited to the same size.
  writeFileSync(join(ws, 'in.txt'), 'two\n');
  assert.deepEqual(ran(runJson(ws, [], env)), ['a']);
  // A file added deep inside a dep folder.
  writeFileSync(join(ws, 'dir', 'sub', 'y.txt'), 'y');
  assert.deepEqual(ran(runJson(ws, [], env)), ['a']);
  // A declared caller env var.
  assert.deepEqual(ran(runJson(ws, [], { GREETING: 'hello' })), ['a']);
  // A param override (other arguments: other snapshot), and back.
  assert.deepEqual(ran(runJson(ws, ['--set', 'n=2'], { GREETING: 'hello' })), ['a', 'b']);
  assert.deepEqual(ran(runJson(ws, [], { GREETING: 'hello' })), []);
  // The YAML itself.
  writeFileSync(join(ws, 'fisherflow.yaml'), PIPELINE.replace('n: 1', 'n: 3'));
  assert.deepEqual(ran(runJson(ws, [], { GREETING: 'hello' })), ['a', 'b']);
  // A damaged store object.
  const lock = JSON.parse(readFileSync(join(ws, 'fisherflow.lock'), 'utf8'));
  const rec = JSON.parse(readFileSync(join(ws, 'artifacts', 'runs', lock.stages.b.key.slice(0, 2), `${lock.stages.b.key}.json`), 'utf8'));
  const obj = join(ws, 'artifacts', 'objects', rec.tree.slice(0, 2), rec.tree.slice(2), 'out.txt');
  chmodSync(obj, 0o644);
  writeFileSync(obj, 'X');
  assert.deepEqual(ran(runJson(ws, [], { GREETING: 'hello' })), ['b']);
  // A deleted workspace output is restored, not trusted.
  rmSync(join(ws, 'a.txt'));
  assert.deepEqual(ran(runJson(ws, [], { GREETING: 'hello' })), []);
  assert.ok(existsSync(join(ws, 'a.txt')));
  // The lock file removed.
  rmSync(join(ws, 'fisherflow.lock'));
  runJson(ws, [], { GREETING: 'hello' });
  assert.ok(existsSync(join(ws, 'fisherflow.lock')));
  assert.ok(readdirSync(join(ws, '.fisherflow', 'fast-path')).length >= 1);
});
