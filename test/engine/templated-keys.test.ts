// Map keys in `with:` may be templates, and a foreach/matrix family can be indexed by a list or
// map item (the member is named after it): what a matrix over pairs of models needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cli, runJson, workspace } from '../helpers/cli.js';

test('templated keys render to text; a family indexed by a list item selects its member', () => {
  const ws = workspace({
    'fisherflow.yaml': `
params:
  pairs: [[st, op], [op, tic]]
  alphas: [0, 0.5]
stages:
  pair:
    matrix: { pair: "\${{ params.pairs }}", alpha: "\${{ params.alphas }}" }
    uses: write
    with: { json: { "\${{ item.pair.0 }},dev": "\${{ item.pair[0] }}", "b-\${{ item.alpha }}": "\${{ item.alpha }}" } }
  pick:
    foreach: \${{ params.pairs }}
    uses: write
    with: { json: "\${{ stages.pair[item][0.5].outputs.file }}" }
`,
  });
  const s = runJson(ws);
  assert.deepEqual(Object.keys(s).sort(), ['pair@op-tic,0', 'pair@op-tic,0.5', 'pair@st-op,0', 'pair@st-op,0.5', 'pick@op-tic', 'pick@st-op']);
  const read = (name: string) => JSON.parse(readFileSync(cli(['show', `${name}.file`], { cwd: ws }).stdout.trim(), 'utf8'));
  assert.deepEqual(read('pair@st-op,0.5'), { 'st,dev': 'st', 'b-0.5': 0.5 });
  const picked = read('pick@op-tic');
  assert.deepEqual(JSON.parse(readFileSync(picked, 'utf8')), { 'op,dev': 'op', 'b-0.5': 0.5 });
});

test('a templated key that repeats another, or names a stage output, is a located error', () => {
  const dup = workspace({ 'fisherflow.yaml': 'params:\n  k: a\nstages:\n  s:\n    uses: write\n    with: { json: { a: 1, "${{ params.k }}": 2 } }\n' });
  const r = cli(['run'], { cwd: dup });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /fisherflow\.yaml:6:\d+: bad template: the key '\$\{\{ params\.k \}\}' renders to 'a', which the map already has/);
  const out = workspace({ 'fisherflow.yaml': 'stages:\n  a:\n    uses: write\n    with: { text: x }\n  s:\n    uses: write\n    with: { json: { "${{ stages.a.outputs.file }}": 2 } }\n' });
  assert.match(cli(['run'], { cwd: out }).stderr, /the key '\$\{\{ stages\.a\.outputs\.file \}\}' names a stage output; only values can/);
});
