// The report's sections on the paper's experiment, called directly: the accuracy table with the
// drops (HTML and accuracy.txt), the interpolation curves and their links to the overlap
// sections. Fixtures: test/fixtures/report/fusion/ (copied from a fuse-to-forget.yaml run by
// copy_from_run.sh there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import stage from '../../stages/report/stage.js';
import { StageInputError } from '../../src/stage/api.js';
import { accuracyRows, formatDelta, meanDrops } from '../../stages/report/fusion.js';
import { interpolationPaths, readEvaluations } from '../../stages/report/fusion-data.js';
import { makeStageContext, tempDir } from '../helpers/stage-context.js';
import { fusionInputs } from './fixture-paths.js';

async function render(inputs: ReturnType<typeof fusionInputs> | Record<string, unknown>) {
  const ctx = makeStageContext(inputs, { stage: 'report' });
  await stage.run(ctx);
  return { ctx, html: readFileSync(join(ctx.outDir, 'report.html'), 'utf8') };
}

test('the accuracy table: each model on its own sets, each fused model on the same sets, and the drop', () => {
  const inputs = fusionInputs();
  const rows = accuracyRows({ models: readEvaluations(inputs.fusion.models, 'fusion.models'), fused: readEvaluations(inputs.fusion.fused, 'fusion.fused') });
  assert.deepEqual(rows.map((r) => `${r.model} ${r.split}`), ['st synthetic_dev', 'st original_dev', 'op synthetic_dev', 'op original_dev', 'tic synthetic_dev', 'tic original_dev']);
  const st = rows[0]!;
  const own = JSON.parse(readFileSync(inputs.fusion.models.st, 'utf8')).sets['st,synthetic_dev'].accuracy;
  const avg = JSON.parse(readFileSync(inputs.fusion.fused.average, 'utf8')).sets['st,synthetic_dev'].accuracy;
  assert.deepEqual(st, { model: 'st', set: 'st,synthetic_dev', split: 'synthetic_dev', own, fused: { average: avg, fisher: st.fused.fisher } });
  const drops = meanDrops(rows, ['average']);
  const synth = rows.filter((r) => r.split === 'synthetic_dev');
  assert.ok(Math.abs(drops[0]!.drops.average! - synth.reduce((a, r) => a + r.fused.average! - r.own!, 0) / 3) < 1e-12);
  assert.equal(formatDelta(-0.0675), '−6.75');
  assert.equal(formatDelta(0.05), '+5.00');
  assert.equal(formatDelta(0), '±0.00');
});

test('interpolation paths: α and the pair from PAIR,ALPHA keys, the end points from the merge record', () => {
  const inputs = fusionInputs();
  const paths = interpolationPaths(readEvaluations(inputs.interpolation, 'interpolation'), 'interpolation');
  assert.deepEqual(paths.map((p) => [p.pair, p.from, p.to, p.points.map((x) => x.alpha)]), [
    ['tic-op', 'tic', 'op', [0, 0.25, 0.5, 0.75, 1]],
    ['tic-st', 'tic', 'st', [0, 0.25, 0.5, 0.75, 1]],
    ['op-st', 'op', 'st', [0, 0.25, 0.5, 0.75, 1]],
  ]);
  // Other names: α from the merge record's weights [1 − α, α].
  const named = interpolationPaths(readEvaluations({ quarter: inputs.interpolation['tic-op,0.25']! }, 'interpolation'), 'interpolation');
  assert.equal(named[0]!.points[0]!.alpha, 0.25);
  const dir = tempDir('ff-report-');
  writeFileSync(join(dir, 'plain.json'), JSON.stringify({ sets: { dev: { accuracy: 0.5 } } }));
  assert.throws(() => interpolationPaths(readEvaluations({ x: join(dir, 'plain.json') }, 'interpolation'), 'interpolation'),
    (e: unknown) => e instanceof StageInputError && /with\.interpolation\.x: cannot tell α/.test((e as Error).message));
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ sets: { dev: { accuracy: 'high' } } }));
  assert.throws(() => readEvaluations({ x: join(dir, 'bad.json') }, 'fusion.models'),
    (e: unknown) => e instanceof StageInputError && /with\.fusion\.models\.x: .*bad\.json: sets\.dev\.accuracy: must be number,null \(expected a metrics\.json written by the evaluate stage\)/.test((e as Error).message));
});

test('the report: fusion and interpolation sections first, linked to the overlaps; accuracy.txt; figures', async () => {
  const { ctx, html } = await render(fusionInputs());
  assert.deepEqual(Object.keys(stage.outputs(fusionInputs())).sort(), ['accuracy', 'figures', 'report', 'summary']);
  assert.ok(html.indexOf('id="fusion"') < html.indexOf('id="interpolation"') && html.indexOf('id="interpolation"') < html.indexOf('id="overlap-tic-op"'));
  assert.match(html, /<a href="#fusion">Fusion<\/a><a href="#interpolation">Interpolation<\/a><a href="#overlap-tic-op">/);
  assert.match(html, /<td>st<\/td><td>synthetic_dev<\/td><td class="num">99\.04<\/td><td class="num">92\.29<\/td><td class="num delta drop">−6\.75<\/td>/);
  for (const p of ['tic-op', 'tic-st', 'op-st']) assert.match(html, new RegExp(`<a href="#overlap-${p}">Fisher overlap — ${p}</a>`));
  assert.equal((html.match(/data-chart="interpolation"/g) ?? []).length, 3);
  const text = readFileSync(join(ctx.outDir, 'accuracy.txt'), 'utf8');
  assert.match(text, /^Accuracy \(%\) of each model on its own sets/);
  assert.match(text, /\nst +synthetic_dev +99\.04 +92\.29 \(−6\.75\) +88\.71 \(−10\.33\)\n/);
  assert.match(text, /\nmean Δ +synthetic_dev +−9\.55 +−6\.98\n/);
  assert.ok(ctx.logs.some((l) => /^st +synthetic_dev/.test(l)), 'the table goes to the log');
  assert.deepEqual(readdirSync(join(ctx.outDir, 'figures')).filter((f) => f.startsWith('interpolation')).sort(), ['interpolation-op-st.svg', 'interpolation-tic-op.svg', 'interpolation-tic-st.svg']);
});

test('without fusion or interpolation inputs the report has neither section nor accuracy.txt', async () => {
  const { html } = await render({});
  assert.doesNotMatch(html, /id="fusion"|id="interpolation"/);
  assert.equal(stage.outputs({}).accuracy, undefined);
});
