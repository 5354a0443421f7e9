// The report page: one self-contained HTML document (inline CSS and SVG, no scripts, and a
// Content-Security-Policy that forbids every network load, so a stray external reference shows
// up as a console error in the browser test instead of a silent request).

import type { PipelineSnapshot } from 'fisherflow';
import { dagChart } from './dag.js';
import { overlapHeatmap, pairKey } from './heatmap.js';
import { layerBars, orderedGroups, pairName } from './layer-bars.js';
import { lineChart, type LineSeries } from './line-chart.js';
import { kindStyle } from './palette.js';
import { fisherNames, lookupOverlap, type EvalResult, type OverlapPair, type OverlapSet, type TrainedModel } from './report-data.js';
import { escapeXml, html } from './svg.js';
import { fusionSection, interpolationSection, type OverlapAnchor } from './fusion.js';
import type { FusionEvaluations, InterpolationPath } from './fusion-data.js';

export interface ReportModel {
  title: string;
  overlapSets: OverlapSet[];
  models: TrainedModel[];
  pipeline?: PipelineSnapshot;
  /** The paper's experiment: models and fused models evaluated on the same sets. */
  fusion?: FusionEvaluations;
  interpolation?: InterpolationPath[];
  /** Sections drawn elsewhere (plots.ts), placed before the pipeline section. */
  extraSections?: Array<{ id: string; label: string; html: string }>;
}

export interface RenderedReport {
  html: string;
  /** Standalone copies of the figures: file name → SVG document. */
  figures: Record<string, string>;
  /** The notebook's summary lines (`UNSHARED (TiC-OP) OVERLAP: …`), for the stage log. */
  notebookLines: string[];
}

const KIND_RANK: Record<string, number> = { unshared: 0, shared: 1 };

export function formatOverlap(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : '—';
}

function formatAccuracy(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : '—';
}

function formatNumber(v: number | null | undefined, digits = 4): string {
  return typeof v === 'number' && Number.isFinite(v) ? String(Number(v.toPrecision(digits))) : '—';
}

/** The notebook's line for a labelled pair: `UNSHARED (TiC-OP) OVERLAP: 0.6123`. */
export function notebookLine(pair: OverlapPair): string | null {
  if (!pair.label) return null;
  const head = /overlap\s*$/i.test(pair.label) ? pair.label : `${pair.label} OVERLAP`;
  return `${head}: ${formatOverlap(pair.overlap)}`;
}

/** Lock keys are long content hashes; the table shows a prefix and keeps the whole in a tooltip. */
export function shortKey(key: string | null | undefined): string {
  if (!key) return '—';
  const hex = key.includes(':') ? key.slice(key.lastIndexOf(':') + 1) : key;
  return hex.length > 12 ? hex.slice(0, 12) : hex;
}

function td(content: string, cls?: string, title?: string): string {
  return html('td', { class: cls, title }, content);
}

function table(head: string[], rows: string[][], cls = ''): string {
  return html('table', { class: cls || undefined }, [
    html('thead', {}, html('tr', {}, head.map((h) => html('th', {}, escapeXml(h))))),
    html('tbody', {}, rows.map((r) => html('tr', {}, r))),
  ]);
}

function note(text: string): string {
  return html('p', { class: 'empty' }, escapeXml(text));
}

function figure(svg: string, caption: string): string {
  return html('figure', {}, [html('div', { class: 'chart' }, svg), html('figcaption', {}, caption)]);
}

function swatch(kind: string): string {
  const style = kindStyle(kind);
  const bg = style.hatch
    ? `background: repeating-linear-gradient(45deg, ${style.color} 0 3px, #fff 3px 4.5px)`
    : `background: ${style.color}`;
  return html('span', { class: 'swatch', style: bg }, '');
}

/** "Mean overlap: shared 0.9708 (3 pairs) · unshared 0.7201 (3 pairs)", when pairs have kinds. */
export function kindSummary(pairs: readonly OverlapPair[]): string | null {
  const parts: string[] = [];
  for (const kind of ['shared', 'unshared']) {
    const values = pairs.filter((p) => p.kind === kind && typeof p.overlap === 'number' && Number.isFinite(p.overlap)).map((p) => p.overlap as number);
    if (values.length === 0) continue;
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    parts.push(`${swatch(kind)}${kind} ${html('strong', {}, formatOverlap(mean))} (${values.length} ${values.length === 1 ? 'pair' : 'pairs'})`);
  }
  return parts.length === 0 ? null : `Mean overlap: ${parts.join(' &nbsp;·&nbsp; ')}`;
}

function overlapSection(set: OverlapSet, index: number, figures: Record<string, string>, lines: string[]): string {
  const suffix = set.name ? ` — ${set.name}` : '';
  const fileSuffix = set.name ? `-${set.name.replace(/[^a-zA-Z0-9_.-]/g, '_')}` : index > 0 ? `-${index}` : '';
  const pairs = [...(set.data.pairs ?? [])];
  const parts: string[] = [];

  const setLines = pairs.map(notebookLine).filter((l): l is string => l !== null);
  lines.push(...setLines);
  if (setLines.length > 0) parts.push(html('pre', { class: 'notebook', 'aria-label': 'notebook summary' }, escapeXml(setLines.join('\n'))));

  // Unshared first, then shared, then the rest: the comparison the notebook is about.
  const ranked = pairs
    .map((p, i) => ({ p, i }))
    .sort((x, y) => (KIND_RANK[x.p.kind ?? ''] ?? 2) - (KIND_RANK[y.p.kind ?? ''] ?? 2) || x.i - y.i)
    .map((x) => x.p);
  const hasInterval = pairs.some((p) => p.interval);
  const hasLabel = pairs.some((p) => p.label);
  const hasKind = pairs.some((p) => p.kind);
  if (ranked.length > 0) {
    const head = ['Fisher A', 'Fisher B', ...(hasLabel ? ['Label'] : []), ...(hasKind ? ['Kind'] : []), 'Overlap', ...(hasInterval ? ['Interval'] : [])];
    const rows = ranked.map((p) => [
      td(escapeXml(p.a)),
      td(escapeXml(p.b)),
      ...(hasLabel ? [td(escapeXml(p.label ?? ''))] : []),
      ...(hasKind ? [td(p.kind ? swatch(p.kind) + escapeXml(p.kind) : '—')] : []),
      td(formatOverlap(p.overlap), 'num'),
      ...(hasInterval ? [td(p.interval
        ? `[${formatOverlap(p.interval.low)}, ${formatOverlap(p.interval.high)}]${p.interval.level !== undefined ? ` <span class="muted">${escapeXml(formatNumber(p.interval.level * 100, 3))}%</span>` : ''}`
        : '—', 'num')] : []),
    ]);
    parts.push(table(head, rows, 'overlap-table'));
    const summary = kindSummary(pairs);
    if (summary) parts.push(html('p', { class: 'summary' }, summary));
  } else {
    parts.push(note('This overlap file lists no pairs.'));
  }

  const names = fisherNames(set.data);
  const kinds = new Map(pairs.filter((p) => p.kind).map((p) => [pairKey(p.a, p.b), p.kind!]));
  const heat = overlapHeatmap(names, (a, b) => lookupOverlap(set.data, a, b), { idPrefix: `ov${index}-heat`, title: `Pairwise Fisher overlap${suffix}`, kinds });
  figures[`overlap-heatmap${fileSuffix}.svg`] = heat;
  parts.push(html('h3', {}, escapeXml(`Pairwise overlap${suffix}`)));
  const outlined = [...kinds.values()].some((k) => k === 'shared' || k === 'unshared');
  const missing = names.some((a, i) => names.slice(i + 1).some((b) => typeof lookupOverlap(set.data, a, b) !== 'number'));
  parts.push(figure(heat, 'Fisher overlap of every pair of Fishers (1 − Fréchet distance of the normalised diagonal Fishers; 1 = identical). '
    + 'Symmetric; the diagonal is 1 by definition.'
    + (outlined ? ' Outlined cells are the analysed pairs: solid = shared (original-task) knowledge, dashed = unshared (shortcut) knowledge.' : '')
    + (missing ? ' “–” = not computed.' : '')));

  const fishers = Object.entries(set.data.fishers ?? {});
  if (fishers.length > 0) {
    parts.push(html('details', {}, [
      html('summary', {}, 'Fishers'),
      table(['Fisher', 'Model', 'Data', 'Examples', 'Backend'], fishers.map(([name, f]) => [
        td(escapeXml(name)), td(escapeXml(String(f.model ?? '—'))), td(escapeXml(String(f.data ?? '—'))),
        td(f.examples !== undefined ? escapeXml(String(f.examples)) : '—', 'num'), td(escapeXml(String(f.backend ?? '—'))),
      ])),
    ]));
  }

  const bars = layerBars(pairs, { idPrefix: `ov${index}-bars`, title: `Fisher overlap per parameter group${suffix}` });
  figures[`layer-bars${fileSuffix}.svg`] = bars;
  parts.push(html('h3', {}, escapeXml(`Where the overlap lives${suffix}`)));
  const byKind = pairs.some((p) => p.kind === 'shared' || p.kind === 'unshared');
  parts.push(figure(bars, 'Fisher overlap restricted to each parameter group (embeddings, each encoder layer’s attention and feed-forward blocks, pooler, classifier). '
    + (byKind ? 'Bars show the mean over the pairs of each kind; whiskers their range.' : 'One bar per pair.')));
  const groups = orderedGroups(pairs);
  const grouped = pairs.filter((p) => p.groups && Object.keys(p.groups).length > 0);
  if (groups.length > 0 && grouped.length > 0) {
    parts.push(html('details', {}, [
      html('summary', {}, 'Per-group values'),
      html('div', { class: 'scroll' }, table(['Group', ...grouped.map(pairName)], groups.map((g) => [
        td(escapeXml(g.name)),
        ...grouped.map((p) => td(formatOverlap(p.groups![g.name]), 'num')),
      ]))),
    ]));
  }

  return html('section', { id: `overlap${fileSuffix}` }, [html('h2', {}, escapeXml(`Fisher overlap${suffix}`)), ...parts]);
}

function trainingSeries(models: readonly TrainedModel[]): LineSeries[] {
  return models.map((m) => {
    const curve = m.metrics.curve ?? [];
    // Fall back to per-epoch losses when a train stage wrote no curve.
    const points = curve.length > 0
      ? curve.map((c) => ({ x: c.step, y: c.loss }))
      : (m.metrics.epochs ?? []).filter((e) => e.step !== undefined).map((e) => ({ x: e.step!, y: e.train_loss ?? null }));
    return { name: m.name, points };
  });
}

function trainingSection(models: readonly TrainedModel[], figures: Record<string, string>): string {
  const parts: string[] = [html('h2', {}, 'Training')];
  if (models.length === 0) {
    parts.push(note('No training in this pipeline.'));
    return html('section', { id: 'training' }, parts);
  }
  const curves = lineChart(trainingSeries(models), {
    chart: 'training-curves', title: 'Training loss', xLabel: 'optimisation step', yLabel: 'training loss', emptyMessage: 'no loss curve recorded',
  });
  figures['training-curves.svg'] = curves;
  parts.push(figure(curves, 'Training loss against optimisation step, one line per model.'));

  const evalNames: string[] = [];
  for (const m of models) {
    for (const e of m.metrics.epochs ?? []) for (const n of Object.keys(e.eval ?? {})) if (!evalNames.includes(n)) evalNames.push(n);
    for (const n of Object.keys(m.metrics.final ?? {})) if (!evalNames.includes(n)) evalNames.push(n);
  }
  const rows: string[][] = [];
  const evalCells = (ev: Record<string, EvalResult> | undefined, cls = 'num') =>
    evalNames.map((n) => td(formatAccuracy(ev?.[n]?.accuracy), cls, ev?.[n]?.loss != null ? `loss ${formatNumber(ev[n]!.loss)}` : undefined));
  for (const m of models) {
    const epochs = m.metrics.epochs ?? [];
    epochs.forEach((e, i) => rows.push([
      td(i === 0 ? escapeXml(m.name) : ''), td(escapeXml(String(e.epoch)), 'num'), td(e.step !== undefined ? escapeXml(String(e.step)) : '—', 'num'),
      td(formatNumber(e.train_loss), 'num'), td(e.seconds != null ? `${e.seconds.toFixed(1)} s` : '—', 'num'), ...evalCells(e.eval),
    ]));
    if (m.metrics.final && Object.keys(m.metrics.final).length > 0) {
      rows.push([td(epochs.length === 0 ? escapeXml(m.name) : ''), td('final', 'final'), td(''), td(''), td(''), ...evalCells(m.metrics.final, 'num final')]);
    }
    if (epochs.length === 0 && !(m.metrics.final && Object.keys(m.metrics.final).length > 0)) {
      rows.push([td(escapeXml(m.name)), td('—'), td('—'), td('—'), td('—'), ...evalNames.map(() => td('—'))]);
    }
  }
  parts.push(html('h3', {}, 'Accuracy per evaluation set'));
  parts.push(html('p', { class: 'sub' }, 'Accuracy after each epoch and of the saved model (<em>final</em>); hover a value for the evaluation loss.'));
  parts.push(evalNames.length === 0 && rows.length === 0
    ? note('The training metrics record no evaluations.')
    : html('div', { class: 'scroll' }, table(['Model', 'Epoch', 'Step', 'Train loss', 'Time', ...evalNames.map((n) => `${n} acc.`)], rows, 'accuracy-table')));
  return html('section', { id: 'training' }, parts);
}

/** Params flattened to dotted keys, so nested maps show as one table. */
export function flattenParams(value: unknown, prefix = '', out: Array<[string, string]> = []): Array<[string, string]> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flattenParams(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.push([prefix, typeof value === 'string' ? value : JSON.stringify(value) ?? String(value)]);
  }
  return out;
}

function pipelineSection(pipeline: PipelineSnapshot | undefined, figures: Record<string, string>): string {
  const parts: string[] = [html('h2', {}, 'Pipeline')];
  if (!pipeline) {
    parts.push(note('No pipeline snapshot: this report was made outside the engine.'));
    return html('section', { id: 'pipeline' }, parts);
  }
  parts.push(html('p', {}, `Pipeline file: ${html('code', {}, escapeXml(pipeline.file))}`));
  const dag = dagChart(pipeline.stages, { idPrefix: 'dag', title: 'Pipeline stages and their dependencies' });
  figures['dag.svg'] = dag;
  parts.push(figure(dag, 'Stages (name, and type below it) in dependency order, left to right; an arrow means “needs”.'));

  parts.push(html('h3', {}, 'Stages and lock-file keys'));
  parts.push(html('p', { class: 'sub' }, 'Status as planned when the run started: <em>stale</em> stages were scheduled to run, <em>up-to-date</em> ones came from the cache. '
    + 'Keys are the first 12 hex digits of the stage key in the lock file (hover for the whole key).'));
  parts.push(pipeline.stages.length === 0 ? note('No stages.') : html('div', { class: 'scroll' }, table(['Stage', 'Type', 'Planned', 'Needs', 'Key'], pipeline.stages.map((s) => [
    td(html('code', {}, escapeXml(s.name))), td(escapeXml(s.type)), td(escapeXml(s.status ?? '—')),
    td(s.needs.length > 0 ? escapeXml(s.needs.join(', ')) : '—'),
    td(html('code', {}, escapeXml(shortKey(s.key))), 'key', s.key ?? undefined),
  ]), 'stages-table')));

  const params = flattenParams(pipeline.params);
  parts.push(html('h3', {}, 'Params'));
  parts.push(params.length === 0 || (params.length === 1 && params[0]![0] === '')
    ? note('The pipeline declares no params.')
    : table(['Param', 'Value'], params.map(([k, v]) => [td(html('code', {}, escapeXml(k))), td(escapeXml(v))]), 'kv'));

  const versions = Object.entries(pipeline.versions);
  parts.push(html('h3', {}, 'Versions'));
  parts.push(versions.length === 0 ? note('No versions recorded.') : table(['Component', 'Version'], versions.map(([k, v]) => [td(escapeXml(k)), td(html('code', {}, escapeXml(String(v))))]), 'kv'));
  return html('section', { id: 'pipeline' }, parts);
}

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: #222; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 48px; }
header { border-bottom: 2px solid #222; margin-bottom: 8px; padding-bottom: 10px; }
h1 { font-size: 24px; margin: 0 0 4px; font-weight: 650; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #ccc; font-weight: 650; }
h3 { font-size: 15px; margin: 22px 0 8px; font-weight: 650; }
nav a { color: #1f4e79; margin-right: 14px; text-decoration: none; }
nav a:hover { text-decoration: underline; }
.sub { color: #666; margin: 0 0 6px; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
pre.notebook { background: #f6f7f8; border-left: 3px solid #1f4e79; padding: 10px 14px; margin: 10px 0 16px; overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 14px; font-variant-numeric: tabular-nums; }
thead th { border-top: 1.5px solid #222; border-bottom: 1px solid #222; text-align: left; font-weight: 600; padding: 5px 12px; }
tbody td { padding: 4px 12px; border-bottom: 1px solid #eee; vertical-align: top; }
tbody tr:last-child td { border-bottom: 1.5px solid #222; }
td.num { text-align: right; white-space: nowrap; }
td.final { font-style: italic; color: #444; }
td.num.final { font-weight: 600; font-style: normal; }
td.delta { color: #555; }
td.delta.drop { color: #a3461f; font-weight: 600; }
.muted { color: #777; }
.swatch { display: inline-block; width: 11px; height: 11px; margin-right: 6px; vertical-align: -1px; border: 0.5px solid #222; }
figure { margin: 8px 0 18px; }
.chart, .scroll { overflow-x: auto; }
.chart svg { display: block; max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 12.5px; max-width: 820px; margin-top: 6px; }
details { margin: 6px 0 12px; }
summary { cursor: pointer; color: #1f4e79; }
p.summary { margin: 0 0 14px; }
p.empty { color: #666; font-style: italic; border: 1px dashed #ccc; padding: 10px 14px; border-radius: 4px; max-width: 820px; }
@media print { main { max-width: none; padding: 0; } nav { display: none; } details { display: block; } h2 { break-after: avoid; } figure { break-inside: avoid; } }
`;

export function renderReport(model: ReportModel): RenderedReport {
  const figures: Record<string, string> = {};
  const lines: string[] = [];
  const overlapSections = model.overlapSets.length === 0
    ? [html('section', { id: 'overlap' }, [html('h2', {}, 'Fisher overlap'), note('No overlap in this pipeline.')])]
    : model.overlapSets.map((set, i) => overlapSection(set, i, figures, lines));
  const training = trainingSection(model.models, figures);
  const pipeline = pipelineSection(model.pipeline, figures);
  const overlapIds = model.overlapSets.map((s, i) => `overlap${s.name ? `-${s.name.replace(/[^a-zA-Z0-9_.-]/g, '_')}` : i > 0 ? `-${i}` : ''}`);
  const overlapAnchor: OverlapAnchor = (name) => model.overlapSets
    .map((set, i) => ({ set, id: overlapIds[i]! }))
    .filter(({ set }) => name === '*' || set.name === name)
    .map(({ set, id }) => ({ id, label: set.name ?? 'Fisher overlap' }));
  const experiment = [
    ...(model.fusion ? [fusionSection(model.fusion, overlapAnchor)] : []),
    ...(model.interpolation?.length ? [interpolationSection(model.interpolation, overlapAnchor, figures)] : []),
  ];
  const navTargets = [
    ...(model.fusion ? [['fusion', 'Fusion']] : []),
    ...(model.interpolation?.length ? [['interpolation', 'Interpolation']] : []),
    ...(model.overlapSets.length === 0
      ? [['overlap', 'Overlap']]
      : model.overlapSets.map((s, i) => [overlapIds[i]!, s.name ? `Overlap — ${s.name}` : 'Overlap'])),
  ];
  navTargets.push(['training', 'Training'], ...(model.extraSections ?? []).map((s) => [s.id, s.label]), ['pipeline', 'Pipeline']);
  const nav = html('nav', {}, navTargets.map(([id, label]) => html('a', { href: `#${id}` }, escapeXml(label!))));
  const subtitle = model.pipeline ? html('p', { class: 'sub' }, `Fisherflow report for ${html('code', {}, escapeXml(model.pipeline.file))}`) : '';

  const doc = '<!DOCTYPE html>\n' + html('html', { lang: 'en' }, [
    html('head', {}, [
      '<meta charset="utf-8">',
      '<meta name="viewport" content="width=device-width, initial-scale=1">',
      // Self-contained by construction: no script, font, image or stylesheet may load from anywhere.
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
      html('title', {}, escapeXml(model.title)),
      html('style', {}, STYLE),
    ]),
    html('body', {}, html('main', {}, [
      html('header', {}, [html('h1', {}, escapeXml(model.title)), subtitle, nav]),
      ...experiment, ...overlapSections, training, ...(model.extraSections ?? []).map((s) => s.html), pipeline,
    ])),
  ]) + '\n';
  return { html: doc, figures, notebookLines: lines };
}
