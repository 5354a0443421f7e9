// A param whose value is a template (`base: ${{ stages.X.outputs.Y }}`) is rendered where it is
// used: a pipeline can default to a stage's output and take a user's file through --set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, runJson, workspace } from '../helpers/cli.js';

const PIPELINE = `
params:
  source: \${{ stages.made.outputs.file }}
  sources: { a: "\${{ params.source }}" }
stages:
  made:
    uses: write
    with: { text: from the stage }
  use:
    run: cat \${{ params.sources.a }} > used.txt
    outs: [used.txt]
`;

test('a param defaulting to a stage output creates the edge; --set swaps in a local file', () => {
  const ws = workspace({ 'fisherflow.yaml': PIPELINE, 'mine.txt': 'my own file' });
  const dag = JSON.parse(cli(['dag', '--format', 'json'], { cwd: ws }).stdout);
  assert.deepEqual(dag.stages.find((s: { name: string }) => s.name === 'use').needs, ['made']);
  assert.deepEqual(runJson(ws), { made: 'ran', use: 'ran' });
  const used = () => readFileSync(join(ws, 'used.txt'), 'utf8');
  assert.equal(used(), 'from the stage');

  const status = cli(['status', '--set', 'source=mine.txt'], { cwd: ws });
  assert.match(status.stdout, /param source changed from \$\{\{ stages\.made\.outputs\.file \}\} to mine\.txt/);
  assert.equal(runJson(ws, ['--set', 'source=mine.txt']).use, 'ran');
  assert.equal(used(), 'my own file');
});

test('a param that refers to itself is an error with its location', () => {
  const ws = workspace({ 'fisherflow.yaml': 'params:\n  a: ${{ params.b }}\n  b: ${{ params.a }}\nstages:\n  s:\n    uses: write\n    with: { text: "${{ params.a }}" }\n' });
  const r = cli(['run'], { cwd: ws });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /fisherflow\.yaml:7:\d+: param 'a' refers to itself \(a → b → a\)/);
});

test('a param holding a whole family (a map) is indexed through: params.models[item]', () => {
  const ws = workspace({
    'fisherflow.yaml': `
params:
  kinds: [st, op]
  models: \${{ stages.model.outputs.file }}
stages:
  model:
    foreach: \${{ params.kinds }}
    uses: write
    with: { text: "model \${{ item }}" }
  use:
    foreach: \${{ params.kinds }}
    run: cat \${{ params.models[item] }} > used-\${{ item }}.txt
    outs: ["used-\${{ item }}.txt"]
`,
    'st.txt': 'mine st', 'op.txt': 'mine op',
  });
  runJson(ws);
  assert.equal(readFileSync(join(ws, 'used-op.txt'), 'utf8'), 'model op');
  runJson(ws, ['--set', 'models.st=st.txt', '--set', 'models.op=op.txt']);
  assert.equal(readFileSync(join(ws, 'used-op.txt'), 'utf8'), 'mine op');
  const partial = cli(['run', '--set', 'models.st=st.txt'], { cwd: ws });
  assert.equal(partial.code, 2);
  assert.match(partial.stderr, /unknown param 'models\.op'/);
});
