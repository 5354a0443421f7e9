// Issue 19, item 2: YAML merge keys are merged, `vars:` are local values, and what DVC users write
// by habit (cmd:, do:, `${x}` in a command) gets an answer that says what fisherflow means.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, runJson, workspace } from '../helpers/cli.js';

test('merge keys (<<: *anchor) are merged, vars: at the top and in a stage fill templates, also in foreach', () => {
  const ws = workspace({
    'fisherflow.yaml': `params:
  lr: 0.5
vars:
  prefix: out
  lrs: [1, 2]
  common: &common
    deps: [in.txt]
x-shared: &shared
  retries: 1
stages:
  one:
    <<: [*common, *shared]
    vars: { name: "\${{ vars.prefix }}-\${{ params.lr }}" }
    run: cat in.txt > \${{ vars.name }}.txt
    outs: ["\${{ vars.name }}.txt"]
  many:
    foreach: \${{ vars.lrs }}
    run: echo \${{ item }} > \${{ vars.prefix }}-\${{ item }}.txt
    outs: ["\${{ vars.prefix }}-\${{ item }}.txt"]
`,
    'in.txt': 'x\n',
  });
  assert.deepEqual(runJson(ws), { one: 'ran', 'many@1': 'ran', 'many@2': 'ran' });
  assert.equal(readFileSync(join(ws, 'out-0.5.txt'), 'utf8'), 'x\n', 'deps came through the merge key; the var read a param');
  assert.equal(readFileSync(join(ws, 'out-2.txt'), 'utf8'), '2\n');
  // A param read through a var is the stage's param: status names it.
  const r = cli(['status', '--set', 'lr=0.1'], { cwd: ws });
  assert.match(r.stdout, /stale {7}one\n {14}- param lr changed from 0\.5 to 0\.1/);
  const bad = workspace({ 'fisherflow.yaml': 'vars: {a: 1}\nstages:\n  s:\n    run: echo ${{ vars.b }}\n' });
  assert.match(cli(['status'], { cwd: bad }).stderr, /fisherflow\.yaml:4:10: unknown var 'b' \(did you mean 'a'\?\)/);
});

test("DVC's keys get fisherflow's answer: cmd → run, do → foreach body, always_changed, top-level plots", () => {
  const ws = workspace({
    'fisherflow.yaml': `plots: [a.json]
stages:
  a:
    cmd: echo hi
  b:
    foreach: [x, y]
    do:
      run: echo \${{ item }}
  c:
    run: "true"
    always_changed: true
    desc: a stage
    wdir: sub
`,
  });
  const r = cli(['status'], { cwd: ws });
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  assert.deepEqual(lines.filter((l) => !/hint/.test(l)), [
    "fisherflow: fisherflow.yaml:1:1: unknown key 'plots' at the top level: plots belong to the stage that writes them",
    "fisherflow: fisherflow.yaml:4:5: unknown key 'cmd' (did you mean 'run'?)",
    "fisherflow: fisherflow.yaml:7:5: unknown key 'do': fisherflow's foreach takes the stage body directly",
    "fisherflow: fisherflow.yaml:11:5: unknown key 'always_changed' (did you mean 'always_run'?)",
    "fisherflow: fisherflow.yaml:12:5: unknown key 'desc' (did you mean 'description'?)",
    "fisherflow: fisherflow.yaml:13:5: unknown key 'wdir': commands run in the pipeline file's folder",
  ].map((l) => l.replace('fisherflow.yaml', join(ws, 'fisherflow.yaml'))));
  assert.match(r.stderr, /hint: move the keys under `do:` up, beside `foreach:`/);
});

test('a DVC-style ${x} in run: that names a param, var or the item is a warning with the template to write', () => {
  const ws = workspace({
    'fisherflow.yaml': `params:
  limit: 5
stages:
  s:
    foreach: [dev]
    env: { MODE: fast }
    run: echo \${limit} \${item} \${MODE} \${HOME} > s-\${{ item }}.txt
    outs: ["s-\${{ item }}.txt"]
`,
  });
  const r = cli(['run'], { cwd: ws });
  assert.equal(r.code, 0);
  assert.match(readFileSync(join(ws, 's-dev.txt'), 'utf8'), /^fast /, 'bash ran it with ${limit} and ${item} empty: hence the warning');
  assert.match(r.stderr, /warning: .*fisherflow\.yaml:7:10: stage 's': '\$\{limit\}', '\$\{item\}' in run: are expanded by bash \(to nothing, unless the environment sets it\), not by fisherflow/);
  assert.match(r.stderr, /hint: for fisherflow's value, write \$\{\{ params\.limit \}\}, \$\{\{ item \}\}/);
  assert.doesNotMatch(r.stderr, /MODE|HOME/, 'declared env vars and other shell variables are left alone');
  // Said again when nothing changed (the no-op fast path answers without loading the file).
  assert.match(cli(['status'], { cwd: ws }).stderr, /warning: .*'\$\{limit\}', '\$\{item\}' in run:/);
});
