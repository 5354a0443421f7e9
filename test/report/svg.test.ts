// Unit tests of the report's SVG building blocks: escaping, scales, colours, and every chart with
// empty or hostile data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { el, emptyChart, escapeXml, html, num, svgDocument, textNode, truncate } from '../../stages/report/svg.js';
import { formatTick, linearScale, niceDomain, ticksBetween } from '../../stages/report/scale.js';
import { luminance, sequentialColor, textColorOn } from '../../stages/report/palette.js';
import { heatmapDomain, overlapHeatmap, pairKey } from '../../stages/report/heatmap.js';
import { describeGroup, layerBars, layerBarSeries, orderedGroups } from '../../stages/report/layer-bars.js';
import { lineChart, linePath } from '../../stages/report/line-chart.js';
import { dagChart, isWaypoint, layoutDag } from '../../stages/report/dag.js';

const EVIL = `<script>alert("x")</script>&'`;

function assertNoRawMarkup(svg: string) {
  assert.ok(!svg.includes('<script'), 'a user string reached the markup unescaped');
  assert.ok(svg.includes('&lt;script&gt;'), 'the hostile name should appear escaped');
}

test('escapeXml escapes the five XML specials', () => {
  assert.equal(escapeXml(`a<b>&"c"'d'`), 'a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;');
  assert.equal(escapeXml('plain é ✓'), 'plain é ✓');
});

test('el escapes attribute values, rounds numbers and drops absent attributes', () => {
  assert.equal(el('rect', { x: 1.23456, y: -0.0001, title: 'a"b', hidden: true, skip: undefined, no: false }),
    '<rect x="1.23" y="0" title="a&quot;b" hidden/>');
  assert.equal(el('g', {}, ['<a/>', '<b/>']), '<g><a/><b/></g>');
  assert.equal(html('td', {}, ''), '<td></td>');
});

test('el refuses attribute and tag names that could break out of the markup', () => {
  assert.throws(() => el('rect', { 'x" onload="y': 1 }), /invalid attribute name/);
  assert.throws(() => el('svg><script', {}), /invalid tag name/);
});

test('num never writes NaN, Infinity or -0 into coordinates', () => {
  assert.equal(num(Number.NaN), '0');
  assert.equal(num(Number.POSITIVE_INFINITY), '0');
  assert.equal(num(-0.001), '0');
  assert.equal(num(12.345), '12.35');
});

test('textNode escapes its content; truncate keeps short labels and marks long ones', () => {
  assert.equal(textNode(1, 2, '<b>'), '<text x="1" y="2">&lt;b&gt;</text>');
  assert.equal(truncate('short', 10), 'short');
  assert.equal(truncate('abcdefghij', 5), 'abcd…');
});

test('svgDocument is standalone: xmlns, viewBox, title and data-chart', () => {
  const svg = svgDocument(10.2, 20, [el('rect', { width: 1, height: 1 })], { chart: 'c', title: 'T & T' });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 11 20"/);
  assert.match(svg, /<title>T &amp; T<\/title>/);
  assert.match(svg, /data-chart="c"/);
  assert.match(emptyChart('c', 'nothing <here>'), /nothing &lt;here&gt;/);
});

test('niceDomain widens to whole 1/2/5 steps without floating-point fuzz', () => {
  assert.deepEqual(niceDomain(0.13, 0.71, 5).ticks, [0, 0.2, 0.4, 0.6, 0.8]);
  assert.deepEqual(niceDomain(0.13, 0.71, 10).ticks, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);
  assert.deepEqual(niceDomain(0, 180, 6).domain, [0, 200]);
  const flat = niceDomain(0.5, 0.5);
  assert.ok(flat.domain[0] < 0.5 && flat.domain[1] > 0.5, 'a constant series still gets a span');
  assert.deepEqual(niceDomain(Number.NaN, 1).domain, [0, 1]);
  assert.deepEqual(ticksBetween(0.6, 1, 0.1), [0.6, 0.7, 0.8, 0.9, 1]);
  assert.equal(formatTick(0.30000000000000004, 0.1), '0.3');
  assert.equal(formatTick(20000, 5000), '20k');
  assert.equal(linearScale([1, 1], [0, 10])(1), 5);
});

test('the heatmap ramp gets darker monotonically, so it survives greyscale', () => {
  let last = Infinity;
  for (let t = 0; t <= 1.0001; t += 0.05) {
    const l = luminance(sequentialColor(t));
    assert.ok(l < last, `lightness must fall at t=${t}`);
    last = l;
  }
  assert.equal(textColorOn(sequentialColor(0)), '#222222');
  assert.equal(textColorOn(sequentialColor(1)), '#ffffff');
});

test('heatmap: symmetric cells, diagonal 1, missing pairs marked, names escaped', () => {
  const values = new Map([[pairKey('a', 'b'), 0.7], [pairKey('a', EVIL), 0.9]]);
  const svg = overlapHeatmap(['a', 'b', EVIL], (x, y) => values.get(pairKey(x, y)), { idPrefix: 't', title: 'h' });
  assert.equal((svg.match(/class="mark"/g) ?? []).length, 9);
  assert.equal((svg.match(/>1\.000</g) ?? []).length, 3, 'diagonal is 1');
  assert.equal((svg.match(/>0\.700</g) ?? []).length, 2, 'a~b drawn on both sides of the diagonal');
  assert.match(svg, /not computed/);
  assertNoRawMarkup(svg);
  assert.deepEqual(heatmapDomain([0.66, 0.97]), [0.6, 1]);
  assert.deepEqual(heatmapDomain([]), [0, 1]);
  assert.match(overlapHeatmap([], () => 0, { idPrefix: 't', title: 'h' }), /no overlaps/);
});

test('layer groups sort embeddings, layers numerically (attention before ffn), pooler, classifier', () => {
  const groups = orderedGroups([{
    a: 'x', b: 'y', overlap: 0.5,
    groups: { classifier: 1, 'encoder.layer.10.ffn': 1, pooler: 1, 'encoder.layer.2.attention': 1, 'encoder.layer.2.ffn': 1, embeddings: 1, custom: 1 },
  }]);
  assert.deepEqual(groups.map((g) => g.label), ['embeddings', 'L2 attn', 'L2 ffn', 'L10 ffn', 'pooler', 'classifier', 'custom']);
  assert.equal(describeGroup('encoder.layer.3', 0).label, 'L3');
});

test('layer bars: one series per kind (mean, min, max) when pairs have kinds, else per pair', () => {
  const pairs = [
    { a: 'a', b: 'b', kind: 'unshared', overlap: 0.6, groups: { embeddings: 0.4 } },
    { a: 'c', b: 'd', kind: 'unshared', overlap: 0.6, groups: { embeddings: 0.6 } },
    { a: 'a', b: 'c', kind: 'shared', overlap: 0.9, groups: { embeddings: 0.9 } },
  ];
  const series = layerBarSeries(pairs);
  assert.deepEqual(series.map((s) => s.name), ['shared', 'unshared']);
  const un = series[1]!.values.get('embeddings')!;
  assert.ok(Math.abs(un.mean - 0.5) < 1e-12);
  assert.deepEqual([un.min, un.max, un.count], [0.4, 0.6, 2]);
  assert.deepEqual(layerBarSeries(pairs.map(({ kind: _k, ...p }) => p)).map((s) => s.name), ['a ~ b', 'c ~ d', 'a ~ c']);

  const svg = layerBars([{ a: EVIL, b: 'b', overlap: 0.5, groups: { [EVIL]: 0.5, embeddings: null } }], { idPrefix: 't', title: 't' });
  assert.equal((svg.match(/class="mark"/g) ?? []).length, 1, 'a null group value draws no bar');
  assertNoRawMarkup(svg);
  assert.match(layerBars([], { idPrefix: 't', title: 't' }), /no per-layer overlaps/);
  assert.match(layerBars([{ a: 'a', b: 'b', overlap: 1 }], { idPrefix: 't', title: 't' }), /no per-layer overlaps/);
});

test('line chart: null losses break the line; empty series give a placeholder', () => {
  const id = (v: number) => v;
  assert.equal(linePath([{ x: 0, y: 1 }, { x: 1, y: null }, { x: 2, y: 3 }, { x: 3, y: 4 }], id, id), 'M0 1M2 3L3 4');
  assert.match(lineChart([], { chart: 'c', title: 't', xLabel: 'x', yLabel: 'y', emptyMessage: 'no curve' }), /no curve/);
  assert.match(lineChart([{ name: 'm', points: [{ x: 0, y: null }] }], { chart: 'c', title: 't', xLabel: 'x', yLabel: 'y', emptyMessage: 'no curve' }), /no curve/);
  const one = lineChart([{ name: EVIL, points: [{ x: 5, y: 0.3 }] }], { chart: 'c', title: 't', xLabel: 'x', yLabel: 'y', emptyMessage: 'e' });
  assert.match(one, /<circle class="mark"/, 'a single point is still visible');
  assertNoRawMarkup(one);
});

test('DAG layout: columns by longest path, unknown needs ignored, cycles cannot hang', () => {
  const { columns, routes, slots } = layoutDag([
    { name: 'load', type: 'load', needs: [] },
    { name: 'fim', type: 'fim', needs: ['load', 'train'] },
    { name: 'train', type: 'train', needs: ['load', 'missing'] },
    { name: 'report', type: 'report', needs: ['fim'] },
  ]);
  assert.deepEqual(columns, [['load'], ['train'], ['fim'], ['report']]);
  assert.equal(routes.length, 4);
  // load → fim skips the train column: routed through one waypoint there, beside train.
  assert.deepEqual(routes.find((r) => r.from === 'load' && r.to === 'fim')!.via.length, 1);
  assert.equal(slots[1]!.length, 2);
  assert.ok(slots[1]!.some(isWaypoint));
  const cyclic = layoutDag([{ name: 'a', type: 't', needs: ['b'] }, { name: 'b', type: 't', needs: ['a'] }]);
  assert.equal(cyclic.columns.flat().length, 2);
  const svg = dagChart([{ name: EVIL, type: 'x', needs: [] }], { idPrefix: 'd', title: 'd' });
  assertNoRawMarkup(svg);
  assert.match(dagChart([], { idPrefix: 'd', title: 'd' }), /no pipeline stages/);
});

test('DAG layout orders rows to follow their parents (no needless crossing)', () => {
  const { columns } = layoutDag([
    { name: 'a', type: 't', needs: [] },
    { name: 'b', type: 't', needs: [] },
    { name: 'b2', type: 't', needs: ['b'] },
    { name: 'a2', type: 't', needs: ['a'] },
  ]);
  assert.deepEqual(columns[1], ['a2', 'b2']);
});
