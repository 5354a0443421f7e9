// Arithmetic in templates: `${{ 1 - item }}` (interpolation weights), `${{ params.n * 2 }}`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cli, runJson, workspace } from '../helpers/cli.js';
import { renderString, TemplateSyntaxError, type TemplateExpr } from '../../src/pipeline/template.js';

const values: Record<string, unknown> = { item: 0.7, 'params.n': 4, 'params.name': 'st', 'stages.a-b.outputs.x': 'P' };
const lookup = (e: TemplateExpr) => {
  if (!(e.text in values)) throw new Error(`no ${e.text}`);
  return values[e.text];
};

test('+ - * / with spaces around them combine numbers; * and / bind tighter; results read as decimals', () => {
  assert.equal(renderString('${{ 1 - item }}', lookup), 0.3);
  assert.equal(renderString('${{ params.n * 2 + 1 }}', lookup), 9);
  assert.equal(renderString('${{ 1 + params.n * 2 }}', lookup), 9);
  assert.equal(renderString('${{ params.n / 8 - 1 }}', lookup), -0.5);
  assert.equal(renderString('${{ 10 - 2 - 3 }}', lookup), 5);
  assert.equal(renderString('${{ 2.5e-1 * params.n }}', lookup), 1);
  assert.equal(renderString('w=${{ 1 - item }}', lookup), 'w=0.3');
  // Without spaces a '-' is part of a name, as in stage names.
  assert.equal(renderString('${{ stages.a-b.outputs.x }}', lookup), 'P');
});

test('arithmetic on a non-number, a missing operand or a division by zero is a template error', () => {
  assert.throws(() => renderString('${{ 1 - params.name }}', lookup), (e: unknown) => e instanceof TemplateSyntaxError && /'params\.name' is "st", not a number/.test((e as Error).message));
  assert.throws(() => renderString('${{ params.n / 0 }}', lookup), /division by zero/);
  assert.throws(() => renderString('${{ params.n *  }}', lookup), TemplateSyntaxError);
});

test('interpolation weights [1 − α, α] under a foreach over α, end to end', () => {
  const ws = workspace({
    'fisherflow.yaml': `
params:
  alphas: [0, 0.3, 1]
stages:
  w:
    foreach: \${{ params.alphas }}
    uses: write
    with: { json: { weights: ["\${{ 1 - item }}", "\${{ item }}"] } }
  bad:
    uses: write
    with: { text: "\${{ 1 - params.alphas }}" }
`,
  });
  const r = cli(['run'], { cwd: ws });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /fisherflow\.yaml:\d+:\d+: .*'params\.alphas' is \[0,0\.3,1\], not a number/);
  const yaml = readFileSync(`${ws}/fisherflow.yaml`, 'utf8').replace(/ {2}bad:[\s\S]*$/, '');
  const ws2 = workspace({ 'fisherflow.yaml': yaml });
  assert.deepEqual(Object.keys(runJson(ws2)).sort(), ['w@0', 'w@0.3', 'w@1']);
  const shown = cli(['show', 'w@0.3.file'], { cwd: ws2 }).stdout.trim();
  assert.deepEqual(JSON.parse(readFileSync(shown, 'utf8')), { weights: [0.7, 0.3] });
});

test('a mistake in a foreach stage is reported once, not once per member', () => {
  const ws = workspace({ 'fisherflow.yaml': 'params:\n  alphas: [0, 0.5, 1]\nstages:\n  w:\n    foreach: ${{ params.alphas }}\n    uses: write\n    with: { txet: "${{ 1 - item }}" }\n' });
  const r = cli(['run'], { cwd: ws });
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});
