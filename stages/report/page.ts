// The report page: one self-contained HTML document (inline CSS and SVG, no scripts, and a
// Content-Security-Policy that forbids every network load, so a stray external reference shows
// up as a console error in the browser test instead of a silent request).

import type { PipelineSnapshot } from 'fisherflow';
import { dagChart, dagFamilies } from './dag.js';
import { overlapHeatmap, pairKey } from './heatmap.js';
import { layerBars, orderedGroups, pairName } from './layer-bars.js';
import { lineChart, type LineSeries } from './line-chart.js';
import { INK, kindStyle, seriesStyle } from './palette.js';
import { fisherNames, lookupOverlap, type EvalResult, type OverlapPair, type OverlapSet, type TrainedModel } from './report-data.js';
import { escapeXml, html } from './svg.js';
import { fusionSection, interpolationSection, type OverlapAnchor } from './fusion.js';
import type { FusionEvaluations, InterpolationPath } from './fusion-data.js';
import { chanceWarning, modelAccuracies } from './chance.js';
import { targetMisses, targetMissText } from './targets.js';
import { overlapRows, sig4, type OverlapRow, type SideAccuracy } from './overlap-rows.js';
export { overlapRows };

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
  /** Split → the accuracy each model should reach (the pipeline's declared targets). */
  targets?: Record<string, number>;
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

/** A model's accuracies beside an overlap, each set at chance marked with a visible warning. */
function sideCell(s: SideAccuracy, targets: Record<string, number> | undefined): string {
  if (!s.accuracy) return td(s.model ? escapeXml(s.model) : '—', 'muted');
  const sets = s.accuracy.sets.map((x) => {
    const value = `${escapeXml(x.split)} ${x.accuracy === null ? '—' : `${(x.accuracy * 100).toFixed(1)}%`}`;
    const target = targets?.[x.split];
    const below = target !== undefined && x.accuracy !== null && x.accuracy < target
      ? ` ${html('span', { class: 'below', title: 'below the accuracy the pipeline targets' }, `(below ${Number((target * 100).toPrecision(4))}% target)`)}` : '';
    return x.check?.atChance
      ? html('span', { class: 'warn', title: `At chance: 95 % CI ${(x.check.low * 100).toFixed(1)}–${(x.check.high * 100).toFixed(1)} % reaches ${x.check.baseline}` }, `⚠ ${value} (at chance)`)
      : html('span', {}, value) + below;
  });
  return td(`${html('strong', {}, escapeXml(s.model!))}: ${sets.join('<br>')}`, 'acc');
}

/** Shown heatmaps add what the table cannot: a pattern over many pairs. With few pairs computed it is mostly “–”. */
export function heatmapAddsSomething(names: readonly string[], computed: number): boolean {
  const possible = (names.length * (names.length - 1)) / 2;
  return computed >= 3 && computed * 2 >= possible;
}

function overlapSection(set: OverlapSet, index: number, figures: Record<string, string>, lines: string[], rowsOfSet: readonly OverlapRow[], targets?: Record<string, number>): string {
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
  const hasLabel = pairs.some((p) => p.label);
  const hasKind = pairs.some((p) => p.kind);
  const hasAcc = rowsOfSet.some((r) => r.sides.some((x) => x.accuracy));
  const rowOf = (p: OverlapPair) => rowsOfSet.find((r) => r.pair === p);
  if (ranked.length > 0) {
    const head = ['Pair (Fisher A ~ Fisher B)', ...(hasKind ? ['Kind'] : []), 'Overlap', '95% interval', ...(hasAcc ? ['Model A accuracy', 'Model B accuracy'] : [])];
    const outside = (p: OverlapPair) => p.interval !== undefined && typeof p.overlap === 'number' && (p.overlap < p.interval.low || p.overlap > p.interval.high);
    const rows = ranked.map((p) => [
      td(`${hasLabel ? `${escapeXml(rowOf(p)?.label ?? p.label ?? '')}<br>` : ''}<span class="muted small">${escapeXml(p.a)} ~ ${escapeXml(p.b)}</span>`),
      ...(hasKind ? [td(p.kind ? swatch(p.kind) + escapeXml(p.kind) : '—')] : []),
      td(`${sig4(p.overlap)}${outside(p) ? html('sup', { title: 'outside its bootstrap interval: see the note below the table' }, '*') : ''}`, 'num'),
      td(p.interval
        ? `[${sig4(p.interval.low)}, ${sig4(p.interval.high)}]${p.interval.level !== undefined && Math.abs(p.interval.level - 0.95) > 1e-9 ? ` <span class="muted">${escapeXml(formatNumber(p.interval.level * 100, 3))}%</span>` : ''}`
        : html('span', { class: 'muted', title: 'Give the fim stages chunks: K and the overlap stage bootstrap: N' }, 'none computed'), 'num'),
      ...(hasAcc ? rowOf(p)!.sides.map((x) => sideCell(x, targets)) : []),
    ]);
    parts.push(html('div', { class: 'scroll' }, table(head, rows, 'overlap-table')));
    if (pairs.some(outside)) {
      parts.push(html('p', { class: 'sub small' }, '* The estimate lies outside its percentile bootstrap interval. The overlap of Fishers estimated from few examples is biased low, and a bootstrap replicate, drawn from the chunks with replacement, holds fewer distinct examples than the whole set, so its overlap is lower still: the interval shows the spread, shifted down by that bias. Compare pairs by their intervals, and use more examples (examples, chunks) to shrink both.'));
    }
    if (!pairs.some((p) => p.interval)) parts.push(note('No bootstrap intervals: an overlap from one sample of examples has no error bar here. Give the fim stages chunks: K and the overlap stage bootstrap: N.'));
    const warnings = [...new Set(rowsOfSet.flatMap((r) => r.sides.flatMap((x) => x.warnings)))];
    if (warnings.length) {
      parts.push(html('div', { class: 'warning', role: 'alert' }, [
        html('strong', {}, '⚠ At chance: these overlaps compare models that have not learnt the set.'),
        html('ul', {}, warnings.map((w) => html('li', {}, escapeXml(w)))),
      ]));
    }
    const summary = kindSummary(pairs);
    if (summary) parts.push(html('p', { class: 'summary' }, summary));
  } else {
    parts.push(note('This overlap file lists no pairs.'));
  }

  const names = fisherNames(set.data);
  const kinds = new Map(pairs.filter((p) => p.kind).map((p) => [pairKey(p.a, p.b), p.kind!]));
  const computed = names.reduce((c, a, i) => c + names.slice(i + 1).filter((b) => typeof lookupOverlap(set.data, a, b) === 'number').length, 0);
  if (heatmapAddsSomething(names, computed)) {
    const heat = overlapHeatmap(names, (a, b) => lookupOverlap(set.data, a, b), { idPrefix: `ov${index}-heat`, title: `Pairwise Fisher overlap${suffix}`, kinds });
    figures[`overlap-heatmap${fileSuffix}.svg`] = heat;
    parts.push(html('h3', {}, escapeXml(`Pairwise overlap${suffix}`)));
    const outlined = [...kinds.values()].some((k) => k === 'shared' || k === 'unshared');
    const missing = computed < (names.length * (names.length - 1)) / 2;
    parts.push(figure(heat, 'Fisher overlap of every pair of Fishers (1 − Fréchet distance of the normalised diagonal Fishers; 1 = identical). '
      + 'Symmetric; the diagonal is 1 by definition.'
      + (outlined ? ' Outlined cells are the analysed pairs: solid = shared (original-task) knowledge, dashed = unshared (shortcut) knowledge.' : '')
      + (missing ? ' “–” = not computed.' : '')));
  }

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

  parts.push(html('h3', {}, escapeXml(`Where the overlap lives${suffix}`)));
  const byKind = pairs.some((p) => p.kind === 'shared' || p.kind === 'unshared');
  // Means by kind only say more than the pairs themselves when a kind has several pairs.
  const kindCounts = new Map<string, number>();
  for (const p of pairs) if (p.kind) kindCounts.set(p.kind, (kindCounts.get(p.kind) ?? 0) + 1);
  if (byKind && [...kindCounts.values()].some((c) => c > 1)) {
    const bars = layerBars(pairs, { idPrefix: `ov${index}-bars`, title: `Mean Fisher overlap per parameter group, by kind${suffix}` });
    figures[`layer-bars${fileSuffix}.svg`] = bars;
    parts.push(figure(bars, 'Fisher overlap restricted to each parameter group (embeddings, each encoder layer’s attention and feed-forward blocks, pooler, classifier). '
      + 'Bars show the mean over the pairs of each kind; whiskers their range.'));
  }
  const perPair = layerBars(pairs, { idPrefix: `ov${index}-pairbars`, title: `Fisher overlap per pair and parameter group${suffix}`, perPair: true, labels: new Map(pairs.map((p) => [p, rowOf(p)?.label ?? p.label ?? `${p.a} ~ ${p.b}`])) });
  figures[`layer-bars-per-pair${fileSuffix}.svg`] = perPair;
  parts.push(figure(perPair, 'Fisher overlap of each pair restricted to each parameter group (embeddings, each encoder layer’s attention and feed-forward blocks, pooler, classifier): one bar per pair'
    + (byKind ? ', coloured by kind (solid = shared, hatched = unshared).' : '.')));
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

/** One model's accuracy and loss per epoch, as two small charts side by side. */
function epochFigures(m: TrainedModel, figures: Record<string, string>, allSets: readonly string[]): string {
  const epochs = m.metrics.epochs ?? [];
  const sets: string[] = [];
  for (const e of epochs) for (const n of Object.keys(e.eval ?? {})) if (!sets.includes(n)) sets.push(n);
  // A set keeps its colour in every model's chart; the training loss (dropout on) is drawn in ink.
  const style = (n: string) => seriesStyle(allSets.indexOf(n));
  const small = { plotWidth: 250, plotHeight: 170 };
  const acc = lineChart(sets.map((n) => ({ name: n, style: style(n), points: epochs.map((e) => ({ x: e.epoch, y: e.eval?.[n]?.accuracy ?? null })) })), {
    chart: 'epoch-accuracy', title: `${m.name}: accuracy per epoch`, xLabel: 'epoch', yLabel: 'accuracy', emptyMessage: 'no evaluation per epoch', yDomain: [0.4, 1], ...small,
  });
  const loss = lineChart([
    { name: 'training loss', style: { color: INK, dash: '9 3 2 3' }, points: epochs.map((e) => ({ x: e.epoch, y: e.train_loss ?? null })) },
    ...sets.map((n) => ({ name: `${n} (eval)`, style: style(n), points: epochs.map((e) => ({ x: e.epoch, y: e.eval?.[n]?.loss ?? null })) })),
  ], { chart: 'epoch-loss', title: `${m.name}: loss per epoch`, xLabel: 'epoch', yLabel: 'loss', emptyMessage: 'no loss per epoch', ...small });
  const safe = m.name.replace(/[^a-zA-Z0-9_.-]/g, '_');
  figures[`epochs-accuracy-${safe}.svg`] = acc;
  figures[`epochs-loss-${safe}.svg`] = loss;
  return html('figure', { class: 'model-epochs' }, [
    html('div', { class: 'pair' }, [html('div', { class: 'chart' }, acc), html('div', { class: 'chart' }, loss)]),
    html('figcaption', {}, `${html('strong', {}, escapeXml(m.name))}: ${epochs.length} epoch${epochs.length === 1 ? '' : 's'}${epochs.length === 1 ? ' (one point per line)' : ''}.`),
  ]);
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
  parts.push(html('h3', {}, 'Per epoch: accuracy and loss'));
  parts.push(html('p', { class: 'sub' }, 'Each model after each epoch: accuracy on each evaluation set (dropout off; <em>train</em> is the training data evaluated as a set), and the mean training loss of the epoch (dropout on) beside each set\'s evaluation loss.'));
  const allSets: string[] = [];
  for (const m of models) for (const e of m.metrics.epochs ?? []) for (const n of Object.keys(e.eval ?? {})) if (!allSets.includes(n)) allSets.push(n);
  parts.push(html('div', { class: 'multiples' }, models.map((m) => epochFigures(m, figures, allSets)).join('')));
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

/** What the model stages ran on, from the evaluations and Fishers the report read: backend, device, BLAS. */
export function runtimeVersions(model: ReportModel): Array<[string, string]> {
  const seen = new Map<string, Set<string>>([['backend', new Set()], ['device', new Set()], ['BLAS', new Set()], ['GPU adapter', new Set()]]);
  const add = (r: { backend?: unknown; device?: unknown; blas?: unknown; adapter?: unknown }) => {
    if (typeof r.backend === 'string') seen.get('backend')!.add(r.backend);
    if (typeof r.device === 'string') seen.get('device')!.add(r.device);
    if (typeof r.blas === 'string') seen.get('BLAS')!.add(r.blas);
    if (typeof r.adapter === 'string') seen.get('GPU adapter')!.add(r.adapter);
  };
  for (const e of [...(model.fusion?.models ?? []), ...(model.fusion?.fused ?? []), ...(model.interpolation ?? []).flatMap((p) => p.points.map((x) => x.evaluation))]) add(e.data);
  for (const set of model.overlapSets) for (const f of Object.values(set.data.fishers ?? {})) add(f as Record<string, unknown>);
  return [...seen].filter(([, v]) => v.size > 0).map(([k, v]) => [k, [...v].join('; ')]);
}

function pipelineSection(pipeline: PipelineSnapshot | undefined, figures: Record<string, string>, runtime: Array<[string, string]> = []): string {
  const parts: string[] = [html('h2', {}, 'Pipeline')];
  if (!pipeline) {
    parts.push(note('No pipeline snapshot: this report was made outside the engine.'));
    return html('section', { id: 'pipeline' }, parts);
  }
  parts.push(html('p', {}, `Pipeline file: ${html('code', {}, escapeXml(pipeline.file))}`));
  // Past a couple of dozen stages, a node per foreach/matrix member makes a thicket of edges:
  // draw each family once (its members are listed in the table below and the node's tooltip).
  const families = dagFamilies(pipeline.stages);
  const collapse = pipeline.stages.length > 24 && families.length < pipeline.stages.length;
  const dag = dagChart(collapse ? families : pipeline.stages, { idPrefix: 'dag', title: 'Pipeline stages and their dependencies' });
  figures['dag.svg'] = dag;
  parts.push(html('figure', {}, [html('div', { class: 'chart natural' }, dag), html('figcaption', {}, (collapse
    ? `Stage families (${families.length} nodes for ${pipeline.stages.length} stages: a foreach or matrix stage is drawn once, its type followed by × its number of members, e.g. ${html('code', {}, 'model')} = ${html('code', {}, 'model@st')}, ${html('code', {}, 'model@op')}, …; hover a node for them). `
    : 'Stages (name, and type below it). ')
    + 'Data flows left to right: an arrow goes from a stage to each stage that uses its outputs. Scroll sideways for the whole graph.')]));

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

  const versions = [...Object.entries(pipeline.versions), ...runtime];
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
div.warning { background: #fff4e5; border: 1.5px solid #c05a00; border-left-width: 5px; color: #5a2a00; padding: 8px 14px; margin: 12px 0 16px; border-radius: 3px; max-width: 980px; }
div.warning ul { margin: 6px 0; padding-left: 20px; }
div.warning p { margin: 4px 0 0; font-size: 12.5px; }
span.warn { color: #a33a00; font-weight: 650; }
span.below { color: #8a5a00; }
td.acc { font-size: 12.5px; white-space: nowrap; }
.small { font-size: 12px; }
.chart.natural svg { max-width: none; }
.multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 6px 18px; }
.multiples .pair { display: flex; gap: 4px; }
.multiples .pair .chart { flex: 1 1 0; min-width: 0; }
p.empty { color: #666; font-style: italic; border: 1px dashed #ccc; padding: 10px 14px; border-radius: 4px; max-width: 820px; }
@media print { main { max-width: none; padding: 0; } nav { display: none; } details { display: block; } h2 { break-after: avoid; } figure { break-inside: avoid; } }
`;

export function renderReport(model: ReportModel): RenderedReport {
  const figures: Record<string, string> = {};
  const lines: string[] = [];
  const rows = overlapRows(model.overlapSets, modelAccuracies(model.fusion?.models ?? []));
  const overlapSections = model.overlapSets.length === 0
    ? [html('section', { id: 'overlap' }, [html('h2', {}, 'Fisher overlap'), note('No overlap in this pipeline.')])]
    : model.overlapSets.map((set, i) => overlapSection(set, i, figures, lines, rows.filter((r) => r.set === set.name && (set.data.pairs ?? []).includes(r.pair)), model.targets));
  const training = trainingSection(model.models, figures);
  const pipeline = pipelineSection(model.pipeline, figures, runtimeVersions(model));
  const atChance = [...modelAccuracies(model.fusion?.models ?? []).values()].flatMap((m) => m.sets.filter((x) => x.check?.atChance).map((x) => chanceWarning(m.model, x.split, x.check!)));
  const misses = targetMisses(modelAccuracies(model.fusion?.models ?? []).values(), model.targets);
  const targetBanner = misses.length === 0 ? '' : html('div', { class: 'warning', role: 'alert', id: 'below-target' }, [
    html('strong', {}, `⚠ Not learnt to the pipeline's targets (${Object.entries(model.targets!).map(([k, v]) => `${escapeXml(k)} ≥ ${Number((v * 100).toPrecision(4))} %`).join(', ')}):`),
    html('ul', {}, misses.map((t) => html('li', {}, escapeXml(targetMissText(t))))),
  ]);
  const banner = atChance.length === 0 ? '' : html('div', { class: 'warning', role: 'alert', id: 'at-chance' }, [
    html('strong', {}, `⚠ ${atChance.length === 1 ? 'A model is' : 'Models are'} at chance: what is measured on ${atChance.length === 1 ? 'it' : 'them'} does not show learnt knowledge.`),
    html('ul', {}, atChance.map((w) => html('li', {}, escapeXml(w)))),
    html('p', {}, 'Accuracy with its 95 % Wilson interval over the set\'s examples; “within reach” means the interval includes chance (1 / classes) or the share of the majority class. Each overlap that uses such a model is marked ⚠ below.'),
  ]);
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
      banner, targetBanner,
      ...experiment, ...overlapSections, training, ...(model.extraSections ?? []).map((s) => s.html), pipeline,
    ])),
  ]) + '\n';
  return { html: doc, figures, notebookLines: lines };
}
