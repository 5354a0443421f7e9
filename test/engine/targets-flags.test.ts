// Issue 19, item 4: `run TARGET...` runs only what the targets need; `always_run`, `frozen`,
// `persist` outs and `cache: false` outs, each visible in status as a typed reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cli, ran, runJson, workspace } from '../helpers/cli.js';

interface StatusJson {
  stages: Array<{ name: string; status: string; reasons: Array<Record<string, unknown>> }>;
}
const status = (ws: string, ...args: string[]): StatusJson => {
  const r = cli(['status', '--json', ...args], { cwd: ws });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusJson;
};
const reasonsOf = (s: StatusJson, name: string) => s.stages.find((x) => x.name === name)?.reasons.map(({ text: _t, ...r }) => r);

test('run TARGET runs the target and what it needs, nothing else; other lock entries are kept', () => {
  const ws = workspace({
    'fisherflow.yaml': `params: { n: 1 }
stages:
  a:
    run: echo \${{ params.n }} > a.txt
    outs: [a.txt]
  b:
    run: cat a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
  side:
    foreach: [x, y]
    run: echo \${{ params.n }} > side-\${{ item }}.txt
    outs: ["side-\${{ item }}.txt"]
`,
  });
  assert.deepEqual(runJson(ws, ['b']), { a: 'ran', b: 'ran' });
  assert.equal(existsSync(join(ws, 'side-x.txt')), false);
  // A family name stands for its members; the pipeline file may come first.
  assert.deepEqual(runJson(ws, ['fisherflow.yaml', 'side']), { 'side@x': 'ran', 'side@y': 'ran' });
  const lock = JSON.parse(readFileSync(join(ws, 'fisherflow.lock'), 'utf8')) as { stages: Record<string, unknown> };
  assert.deepEqual(Object.keys(lock.stages).sort(), ['a', 'b', 'side@x', 'side@y'], 'the targeted runs kept each other\'s entries');
  // status TARGET: the target's closure only.
  assert.deepEqual(status(ws, '--set', 'n=2', 'a').stages.map((s) => [s.name, s.status]), [['a', 'stale']]);
  const bad = cli(['run', 'bb'], { cwd: ws });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown stage 'bb' \(did you mean 'b'\?\)/);
});

test('always_run reruns every time (dependents only if its output changed); frozen keeps its locked result', () => {
  const ws = workspace({
    'fisherflow.yaml': `stages:
  clock:
    run: echo tick > clock.txt
    always_run: true
    outs: [clock.txt]
  after:
    run: cat clock.txt > after.txt
    deps: [clock.txt]
    outs: [after.txt]
  base:
    run: echo v1 > base.txt
    outs: [base.txt]
`,
  });
  runJson(ws);
  assert.deepEqual(reasonsOf(status(ws), 'clock'), [{ kind: 'always-run' }]);
  assert.deepEqual(ran(runJson(ws)), ['clock'], 'same output: after stays cached');
  // Frozen: a changed command would rerun base; frozen keeps the locked result and says why.
  const pipeline = readFileSync(join(ws, 'fisherflow.yaml'), 'utf8');
  writeFileSync(join(ws, 'fisherflow.yaml'), pipeline.replace('echo v1 > base.txt', 'echo v2 > base.txt\n    frozen: true'));
  const s = status(ws, 'base');
  assert.equal(s.stages[0].status, 'up-to-date');
  assert.deepEqual(reasonsOf(s, 'base'), [{ kind: 'frozen', reasons: [{ kind: 'command', from: 'echo v1 > base.txt', to: 'echo v2 > base.txt', text: "command changed from 'echo v1 > base.txt' to 'echo v2 > base.txt'" }] }]);
  assert.deepEqual(runJson(ws, ['base', '--force']), { base: 'cached' }, 'not even --force reruns a frozen stage');
  rmSync(join(ws, 'base.txt'));
  runJson(ws, ['base']);
  assert.equal(readFileSync(join(ws, 'base.txt'), 'utf8'), 'v1\n', 'its locked output is restored, not recomputed');
  // Without its result in the store, a frozen stage cannot be kept: run refuses, naming it.
  rmSync(join(ws, 'artifacts'), { recursive: true, force: true });
  const r = cli(['run', 'base'], { cwd: ws });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /stage 'base' is frozen, but the result its lock entry names \(key [0-9a-f]{12}\) is not in the store/);
  assert.match(cli(['status'], { cwd: workspace({ 'fisherflow.yaml': 'stages:\n  s:\n    run: "true"\n    frozen: true\n    always_run: true\n' }) }).stderr, /stage 's' is both frozen \(never rerun\) and always_run/);
});

test('persist outs survive into the next run; cache: false outs stay out of the store and rerun when missing', () => {
  const ws = workspace({
    'fisherflow.yaml': `params: { n: 1 }
stages:
  log:
    run: echo run-\${{ params.n }} >> log.txt
    outs: [{ path: log.txt, persist: true }]
  big:
    run: echo big-\${{ params.n }} > big.bin
    outs: [{ path: big.bin, cache: false }]
  use:
    uses: write
    with: { text: "\${{ stages.big.outputs['big.bin'] }}" }
`,
  });
  runJson(ws);
  runJson(ws, ['--set', 'n=2']);
  assert.equal(readFileSync(join(ws, 'log.txt'), 'utf8'), 'run-1\nrun-2\n', 'the second run appended to the first');
  // big.bin is nowhere in the store: only its hash is recorded (and reaches the built-in's key).
  assert.equal(cli(['show', 'big', '--set', 'n=2'], { cwd: ws }).stdout, `${join(ws, 'big.bin')}\n`);
  assert.equal(spawnSync('grep', ['-rq', 'big-', join(ws, 'artifacts', 'objects')]).status, 1, 'no stored copy of big.bin');
  rmSync(join(ws, 'big.bin'));
  assert.deepEqual(reasonsOf(status(ws, '--set', 'n=2'), 'big'), [{ kind: 'uncached-output', path: 'big.bin', change: 'missing' }]);
  assert.deepEqual(ran(runJson(ws, ['--set', 'n=2'])), ['big'], 'recomputed (same bytes): its dependent stays cached');
  writeFileSync(join(ws, 'big.bin'), 'edited\n');
  assert.deepEqual(reasonsOf(status(ws, '--set', 'n=2'), 'big'), [{ kind: 'uncached-output', path: 'big.bin', change: 'changed' }]);
});
