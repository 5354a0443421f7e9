// foreach / matrix naming and templates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, runJson, workspace } from '../helpers/cli.js';
import { parseExpression, renderString } from '../../src/pipeline/template.js';

test('foreach over a list, a list of maps and a map; matrix as a cartesian product', () => {
  const ws = workspace({
    'fisherflow.yaml': `
params:
  seeds: [1, 2]
stages:
  list:
    foreach: \${{ params.seeds }}
    uses: write
    with: { text: "seed \${{ item }}" }
  objects:
    foreach:
      - { name: st, p: 0.1 }
      - { name: op, p: 0.2 }
    uses: write
    with: { text: "\${{ item.name }} \${{ item.p }}" }
  models:
    foreach:
      tic: { lr: 1 }
      op: { lr: 2 }
    uses: write
    with: { text: "\${{ key }} \${{ item.lr }}" }
  grid:
    matrix:
      model: [tic, op]
      data: [tic, orig]
    uses: write
    with: { text: "\${{ item.model }} on \${{ item.data }}" }
  one:
    run: cat \${{ stages.grid['tic,orig'].outputs.file }} \${{ stages.models[op].outputs.file }} > one.txt
    outs: [one.txt]
  all:
    uses: write
    with: { json: "\${{ stages.list.outputs.file }}" }
`,
  });
  const s = runJson(ws);
  assert.deepEqual(Object.keys(s).sort(), ['all', 'grid@op,orig', 'grid@op,tic', 'grid@tic,orig', 'grid@tic,tic', 'list@1', 'list@2', 'models@op', 'models@tic', 'objects@op', 'objects@st', 'one'].sort());
  assert.equal(readFileSync(join(ws, 'one.txt'), 'utf8'), 'tic on origop 2');
  const dag = JSON.parse(cli(['dag', '--format', 'json'], { cwd: ws }).stdout);
  const all = dag.stages.find((x: { name: string }) => x.name === 'all');
  assert.deepEqual(all.needs, ['list@1', 'list@2']);
  const shown = cli(['show', 'all.file'], { cwd: ws }).stdout.trim();
  const map = JSON.parse(readFileSync(shown, 'utf8'));
  assert.deepEqual(Object.keys(map), ['1', '2']);
  assert.equal(readFileSync(map['2'], 'utf8'), 'seed 2');
});

test('dag prints mermaid and dot', () => {
  const ws = workspace({ 'fisherflow.yaml': 'stages:\n  a:\n    uses: write\n    with: { text: x }\n  b:\n    run: cat ${{ stages.a.outputs.file }}\n' });
  assert.match(cli(['dag', '--format', 'mermaid'], { cwd: ws }).stdout, /flowchart LR\n {2}s0\["a \(write\)"\]\n {2}s1\["b"\]\n {2}s0 --> s1/);
  assert.match(cli(['dag', '--format', 'dot'], { cwd: ws }).stdout, /"a" -> "b";/);
});

test('template expressions', () => {
  const e = parseExpression(" stages.train[item].outputs.model ");
  assert.equal(e.segments.length, 5);
  assert.equal(renderString('lr=${{ params.lr }}!', () => 0.5), 'lr=0.5!');
  assert.deepEqual(renderString('${{ params.list }}', () => [1, 2]), [1, 2]);
  assert.throws(() => renderString('x ${{ params.list }}', () => [1, 2]), /can only be used as a whole value/);
});

test('params: defaults < params file < --set', () => {
  const ws = workspace({
    'fisherflow.yaml': 'params:\n  a: 1\n  model: { lr: 0.1, layers: 2 }\nstages:\n  s:\n    uses: write\n    with: { json: { a: "${{ params.a }}", lr: "${{ params.model.lr }}", layers: "${{ params.model.layers }}" } }\n',
    'p.yaml': 'model:\n  lr: 0.5\n',
  });
  runJson(ws, ['--params', 'p.yaml', '--set', 'a=3']);
  const out = cli(['show', 's.file', '--params', 'p.yaml', '--set', 'a=3'], { cwd: ws }).stdout.trim();
  assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), { a: 3, lr: 0.5, layers: 2 });
});
