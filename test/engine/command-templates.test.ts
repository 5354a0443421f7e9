// Template values in `run:` are data, not code: each `${{ }}` arrives in the command as exactly its
// value (quoted for where it stands), lists and foreach families as several words; `| raw` opts out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, runJson, ran, workspace } from '../helpers/cli.js';

test("--set 'name=$(touch …)' is not executed: values with spaces, quotes, $ and ; arrive intact", () => {
  const marker = join(mkdtempSync(join(tmpdir(), 'ff-q-')), 'pwned');
  const ws = workspace({
    'fisherflow.yaml': `params:\n  name: x\nstages:\n  a:\n    run: echo \${{ params.name }} > a.txt; echo "\${{ params.name }}" >> a.txt; echo '\${{ params.name }}' >> a.txt\n    outs: [a.txt]\n`,
  });
  const value = `$(touch ${marker}); it's "q" \`id\` $HOME ;`;
  const r = cli(['run', '--set', `name=${value}`], { cwd: ws });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(marker), false, 'the command substitution did not run');
  assert.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), `${value}\n${value}\n${value}\n`);
});

test('a project path with a space: `cat ${{ stages.w.outputs.file }}` reads the stored artifact', () => {
  const ws = mkdtempSync(join(tmpdir(), 'ff ws with space-'));
  writeFileSync(join(ws, 'fisherflow.yaml'), `stages:\n  w:\n    uses: write\n    with: { text: hello }\n  c:\n    run: cat \${{ stages.w.outputs.file }} > c.txt\n    outs: [c.txt]\n`);
  assert.deepEqual(ran(runJson(ws)), ['c', 'w']);
  assert.equal(readFileSync(join(ws, 'c.txt'), 'utf8'), 'hello');
});

test('`| raw` pastes shell text on purpose; outside run: it is an error with file:line:column', () => {
  const ws = workspace({
    'fisherflow.yaml': `params:\n  flags: "-n 2"\nstages:\n  a:\n    run: printf '1\\n2\\n3\\n' | head \${{ params.flags | raw }} > a.txt\n    outs: [a.txt]\n`,
  });
  assert.deepEqual(ran(runJson(ws)), ['a']);
  assert.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), '1\n2\n');
  const bad = workspace({ 'fisherflow.yaml': `params:\n  t: x\nstages:\n  a:\n    uses: write\n    with: { text: "\${{ params.t | raw }}" }\n` });
  const r = cli(['status'], { cwd: bad });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /fisherflow\.yaml:6:\d+: bad template: '\| raw' only applies in run:/);
});

test('a foreach family\'s outputs in run: and deps: expand to the members\' paths (quoted), and key the stage', () => {
  const ws = workspace({
    'fisherflow.yaml': `params:\n  v: 1\nstages:
  count:
    foreach: [a, "b c"]
    run: echo \${{ item }} \${{ params.v }} > "counts-\${{ item }}.tab"
    outs: { tab: "counts-\${{ item }}.tab" }
  all:
    run: cat \${{ stages.count.outputs.tab }} > all.tsv
    deps: ["\${{ stages.count.outputs.tab }}"]
    outs: [all.tsv]
`,
  });
  assert.deepEqual(ran(runJson(ws)), ['all', 'count@a', 'count@b c']);
  assert.equal(readFileSync(join(ws, 'all.tsv'), 'utf8'), 'a 1\nb c 1\n');
  assert.deepEqual(ran(runJson(ws, ['--set', 'v=2'])), ['all', 'count@a', 'count@b c']);
  assert.equal(readFileSync(join(ws, 'all.tsv'), 'utf8'), 'a 2\nb c 2\n');
  const lock = JSON.parse(readFileSync(join(ws, 'fisherflow.lock'), 'utf8'));
  assert.equal(lock.stages.all.cmd, `cat stages.count@a.outputs.tab 'stages.count@b c.outputs.tab' > all.tsv`);
  assert.deepEqual(Object.keys(lock.stages.all.upstream).sort(), ['count@a.outputs.tab', 'count@b c.outputs.tab']);
});

test('a single upstream artifact as a dep is an edge and part of the key (not a missing file)', () => {
  const ws = workspace({
    'fisherflow.yaml': `params:\n  t: one\nstages:\n  w:\n    uses: write\n    with: { text: "\${{ params.t }}" }\n  c:\n    run: cp \${{ stages.w.outputs.file }} c.txt\n    deps: ["\${{ stages.w.outputs.file }}"]\n    outs: [c.txt]\n`,
  });
  assert.deepEqual(ran(runJson(ws)), ['c', 'w']);
  assert.deepEqual(ran(runJson(ws, ['--set', 't=two'])), ['c', 'w']);
  assert.equal(readFileSync(join(ws, 'c.txt'), 'utf8'), 'two');
});
