// Keys cover everything that changes bytes, and status and run compute the same plan: needs:
// upstream outputs, edited lock entries, --set values a schema rejects (native sources: code-version.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, runJson, ran, workspace } from '../helpers/cli.js';
import { openWorkspace } from '../../src/plan/workspace.js';
import { planPipeline } from '../../src/plan/plan.js';

const NEEDS = `params:\n  v: 1\nstages:
  count:
    foreach: [a, b]
    run: echo \${{ item }} \${{ params.v }} > counts-\${{ item }}.tab
    outs: { tab: "counts-\${{ item }}.tab" }
  all:
    needs: [count]
    run: cat counts-*.tab > all.tsv
    outs: [all.tsv]
`;

test('needs: a command stage reading its upstream family\'s workspace files is stale in status and reruns in run', async () => {
  const ws = workspace({ 'fisherflow.yaml': NEEDS });
  assert.deepEqual(ran(runJson(ws)), ['all', 'count@a', 'count@b']);
  // status (the same planPipeline as run) says 'all' is stale...
  const w = await openWorkspace(join(ws, 'fisherflow.yaml'), { set: ['v=2'] });
  const plan = planPipeline(w);
  assert.equal(plan.get('all')!.status, 'stale');
  assert.deepEqual(plan.get('all')!.reasons.map((r) => r.kind), ['upstream', 'upstream']);
  // ...and run reruns it: the upstream outputs are part of its key, so all.tsv is not left stale.
  assert.deepEqual(ran(runJson(ws, ['--set', 'v=2'])), ['all', 'count@a', 'count@b']);
  assert.equal(readFileSync(join(ws, 'all.tsv'), 'utf8'), 'a 2\nb 2\n');
  const lock = JSON.parse(readFileSync(join(ws, 'fisherflow.lock'), 'utf8'));
  assert.deepEqual(Object.keys(lock.stages.all.upstream).sort(), ['count@a.outputs.tab', 'count@b.outputs.tab']);
});

test('a lock entry edited by hand that keeps its key (cmd, deps, outs hashes) is repaired on the next run', () => {
  const ws = workspace({ 'fisherflow.yaml': `stages:\n  a:\n    run: cat in.txt > a.txt\n    deps: [in.txt]\n    outs: [a.txt]\n`, 'in.txt': 'x\n' });
  runJson(ws);
  const path = join(ws, 'fisherflow.lock');
  const good = readFileSync(path, 'utf8');
  const lock = JSON.parse(good);
  lock.stages.a.cmd = 'rm -rf ~';
  lock.stages.a.deps['in.txt'] = '0'.repeat(64);
  lock.stages.a.outs['a.txt'].hash = '1'.repeat(64);
  writeFileSync(path, JSON.stringify(lock, null, 2));
  assert.deepEqual(ran(runJson(ws)), [], 'the key still has its result');
  assert.equal(readFileSync(path, 'utf8'), good);
});

test('a --set value a stage\'s schema rejects is reported against the --set, naming where the param is used', () => {
  const ws = workspace({ 'fisherflow.yaml': `params:\n  take: 10\nstages:\n  dev:\n    uses: load\n    with: { path: data.tsv, take: "\${{ params.take }}" }\n` });
  const r = cli(['status', '--set', 'take=abc'], { cwd: ws });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^fisherflow: --set take=abc: stages\.dev\.with\.take must be integer \(stage 'dev', used at .*fisherflow\.yaml:6:35\)$/m);
  writeFileSync(join(ws, 'p.yaml'), 'take: [1]\n');
  const p = cli(['status', '--params', 'p.yaml'], { cwd: ws });
  assert.match(p.stderr, /^fisherflow: --params p\.yaml \(take\): stages\.dev\.with\.take must be integer/m);
});
