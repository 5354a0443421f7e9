// The report stage called directly (no engine, no browser). Fixtures: test/fixtures/report/, made
// by make_fixtures.py there (synthetic Fishers, overlaps computed with the notebook's formula).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import stage from '../../stages/report/stage.js';
import { StageInputError } from '../../src/stage/api.js';
import { flattenParams, notebookLine, shortKey } from '../../stages/report/page.js';
import { jsonErrorLocation } from '../../stages/report/report-data.js';
import { makeStageContext, tempDir } from '../helpers/stage-context.js';
import { fixture, fullInputs, pipelineFixture } from './fixture-paths.js';
import type { ReportInputs } from '../../stages/report/stage.js';

async function render(inputs: ReportInputs, withPipeline = true) {
  const ctx = makeStageContext(inputs, { stage: 'report' });
  if (withPipeline) ctx.pipeline = pipelineFixture();
  await stage.run(ctx);
  for (const out of Object.values(stage.outputs(inputs))) assert.ok(existsSync(join(ctx.outDir, out.path)), `declared output ${out.path} exists`);
  return { ctx, html: readFileSync(join(ctx.outDir, 'report.html'), 'utf8') };
}

test('the module declares the report contract', () => {
  assert.equal(stage.type, 'report');
  assert.equal(stage.wantsPipeline, true);
  assert.deepEqual(stage.outputs({}).report, { path: 'report.html', kind: 'file', description: stage.outputs({}).report!.description });
  const props = (stage.inputSchema as { properties: Record<string, Record<string, unknown>> }).properties;
  assert.equal(props.overlap!['x-fisherflow-path'], true);
});

test('full report: overlap table, notebook lines, all charts, pipeline tables, figures', async () => {
  const { ctx, html } = await render(fullInputs());
  for (const chart of ['overlap-heatmap', 'layer-bars', 'training-curves', 'dag']) assert.match(html, new RegExp(`data-chart="${chart}"`));
  assert.match(html, /UNSHARED \(TiC-OP\) OVERLAP: 0\.7241/);
  assert.match(html, /SHARED \(ORIG\) OVERLAP: 0\.9711/);
  assert.ok(ctx.logs.includes('UNSHARED (TiC-OP) OVERLAP: 0.7241'), 'the notebook lines go to the stage log');
  assert.match(html, /\[0\.7076, 0\.7397\]/, 'intervals are shown');
  assert.match(html, /Mean overlap: .*shared <strong>0\.9708<\/strong> \(3 pairs\).*unshared <strong>0\.7202<\/strong> \(3 pairs\)/);
  assert.match(html, /sst2-validation acc\./);
  assert.match(html, /80\.00%/);
  assert.match(html, /model\.layers/, 'nested params are flattened');
  assert.match(html, /@tensorflow\/tfjs-core/);
  const key = pipelineFixture().stages[0]!.key!;
  assert.ok(html.includes(`title="${key}"`) && html.includes(`>${shortKey(key)}<`), 'lock keys shown short, whole in the tooltip');
  // Unshared pairs come before shared ones in the table.
  assert.ok(html.indexOf('UNSHARED (OP-ST)</td>') < html.indexOf('SHARED (ORIG) ['));
  assert.deepEqual(readdirSync(join(ctx.outDir, 'figures')).sort(), ['dag.svg', 'epochs-accuracy-op.svg', 'epochs-accuracy-st.svg', 'epochs-accuracy-tic.svg', 'epochs-loss-op.svg', 'epochs-loss-st.svg', 'epochs-loss-tic.svg',
    'layer-bars-per-pair.svg', 'layer-bars.svg', 'overlap-heatmap.svg', 'training-curves.svg']);
  assert.match(readFileSync(join(ctx.outDir, 'figures', 'dag.svg'), 'utf8'), /^<\?xml[^>]*>\n<svg xmlns=/);
});

test('self-contained: no external URL, script or stylesheet link', async () => {
  const { html } = await render(fullInputs());
  assert.doesNotMatch(html, /<script|<link|@import|\b(?:src|href)="(?!#)/i);
  assert.doesNotMatch(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, ''), /https?:\/\//);
  assert.match(html, /Content-Security-Policy/);
});

test('every section says so when its data is absent', async () => {
  const { html, ctx } = await render({}, false);
  assert.match(html, /No overlap in this pipeline\./);
  assert.match(html, /No training in this pipeline\./);
  assert.match(html, /No pipeline snapshot/);
  assert.match(html, /<title>Fisher overlap report<\/title>/);
  assert.deepEqual(readdirSync(join(ctx.outDir, 'figures')), []);
});

test('several overlap files get a section each; pairs without kinds give per-pair bars', async () => {
  const { html, ctx } = await render({ overlaps: { 'bert-12': fixture('overlap-bert12.json'), small: fixture('overlap-small.json') } });
  assert.match(html, /Fisher overlap — bert-12/);
  assert.match(html, /Fisher overlap — small/);
  assert.match(html, /id="overlap-small"/);
  assert.equal((html.match(/data-chart="overlap-heatmap"/g) ?? []).length, 2);
  assert.ok(existsSync(join(ctx.outDir, 'figures', 'layer-bars-per-pair-small.svg')));
  assert.match(html, /tic@tic ~ op@op/, 'unlabelled pairs are named by their Fishers');
});

test('user strings are escaped everywhere (title, names, params)', async () => {
  const dir = tempDir();
  const evil = '<img src=x onerror=alert(1)>';
  const file = join(dir, 'overlap.json');
  writeFileSync(file, JSON.stringify({ overlap: { [`${evil}~b`]: 0.5 }, pairs: [{ a: evil, b: 'b', label: evil, kind: evil, overlap: 0.5, groups: { [evil]: 0.5 } }] }));
  const ctx = makeStageContext<ReportInputs>({ overlap: file, title: evil }, { stage: 'report' });
  ctx.pipeline = { file: evil, params: { [evil]: evil }, stages: [{ name: evil, type: evil, needs: [], key: evil }], versions: { [evil]: evil } };
  await stage.run(ctx);
  const html = readFileSync(join(ctx.outDir, 'report.html'), 'utf8');
  assert.ok(!html.includes('<img'), 'no user string becomes markup');
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
});

test('bad inputs are StageInputErrors naming the input, file and place', async () => {
  const dir = tempDir();
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{\n  "pairs": [\n    { "a": "x", }\n  ]\n}\n');
  const run = (inputs: ReportInputs) => stage.run(makeStageContext(inputs, { stage: 'report' }));

  await assert.rejects(run({ overlap: broken }), (e: unknown) => {
    assert.ok(e instanceof StageInputError);
    assert.match(e.message, /with\.overlap: .*broken\.json is not valid JSON at line 3, column \d+/);
    return true;
  });
  const noB = join(dir, 'nob.json');
  writeFileSync(noB, JSON.stringify({ pairs: [{ a: 'x', overlap: 0.5 }] }));
  await assert.rejects(run({ overlaps: { mine: noB } }), (e: unknown) => {
    assert.ok(e instanceof StageInputError);
    assert.match(e.message, /with\.overlaps\.mine: .*nob\.json: pairs\.0: missing "b"/);
    return true;
  });
  const badCurve = join(dir, 'metrics.json');
  writeFileSync(badCurve, JSON.stringify({ curve: [{ step: 'one', loss: 1 }] }));
  await assert.rejects(run({ training: { tic: badCurve } }), /with\.training\.tic: .*metrics\.json: curve\.0\.step: must be number/);
  await assert.rejects(run({ overlap: join(dir, 'absent.json') }), /with\.overlap: cannot read .*absent\.json: ENOENT/);
});

test('check() flags an empty overlaps map', () => {
  assert.deepEqual(stage.check!({ overlaps: {} }), ['with.overlaps: give at least one name → overlap.json, or leave it out']);
  assert.deepEqual(stage.check!({ overlap: 'a.json' }), []);
});

test('NaN written as null by JSON.stringify renders as a dash, not a crash', async () => {
  const dir = tempDir();
  const file = join(dir, 'metrics.json');
  writeFileSync(file, JSON.stringify({ epochs: [{ epoch: 1, step: 10, train_loss: null, eval: { v: { accuracy: null, loss: null } } }], curve: [{ step: 0, loss: null }, { step: 10, loss: 0.5 }] }));
  const { html } = await render({ training: { m: file } });
  assert.match(html, /data-chart="training-curves"/);
  assert.match(html, /<td class="num">—<\/td>/);
});

test('helpers: notebook lines, short keys, flattened params, JSON error positions', () => {
  assert.equal(notebookLine({ a: 'a', b: 'b', label: 'UNSHARED (TiC-OP)', overlap: 0.123456 }), 'UNSHARED (TiC-OP) OVERLAP: 0.1235');
  assert.equal(notebookLine({ a: 'a', b: 'b', label: 'SHARED OVERLAP', overlap: null }), 'SHARED OVERLAP: —');
  assert.equal(notebookLine({ a: 'a', b: 'b', overlap: 0.5 }), null);
  assert.equal(shortKey('sha256:0123456789abcdef0123'), '0123456789ab');
  assert.equal(shortKey(null), '—');
  assert.deepEqual(flattenParams({ a: 1, b: { c: 'x', d: [1, 2] }, e: {} }), [['a', '1'], ['b.c', 'x'], ['b.d', '[1,2]'], ['e', '{}']]);
  assert.equal(jsonErrorLocation('{\n "a": x}', 'Unexpected token x in JSON at position 8'), ' at line 2, column 7');
});
