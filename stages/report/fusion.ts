// The report's sections on the paper's experiment: the accuracy table (each model on its own
// sets, each fused model on the same sets, and the drop), the interpolation curves (accuracy
// against α, one line per set), each linked to the Fisher overlap that explains it; and the
// same table as plain text for the terminal.

import { lineChart, type LineSeries } from './line-chart.js';
import { seriesStyle } from './palette.js';
import { splitSetName, type FusionEvaluations, type InterpolationPath } from './fusion-data.js';
import { escapeXml, html } from './svg.js';

export interface AccuracyRow {
  /** The model the set belongs to (`st` of `st,synthetic_dev`, else the evaluation's name). */
  model: string;
  set: string;
  split: string;
  own: number | null;
  /** Fused model name → its accuracy on the same set. */
  fused: Record<string, number | null>;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export function accuracyRows(f: FusionEvaluations): AccuracyRow[] {
  const rows: AccuracyRow[] = [];
  for (const m of f.models) {
    for (const [set, r] of Object.entries(m.data.sets)) {
      const { model, split } = splitSetName(set);
      rows.push({
        model: model ?? m.name, set, split,
        own: finite(r.accuracy) ? r.accuracy : null,
        fused: Object.fromEntries(f.fused.map((x) => [x.name, finite(x.data.sets[set]?.accuracy) ? x.data.sets[set]!.accuracy! : null])),
      });
    }
  }
  return rows;
}

/** Mean of fused − own over the rows of each split, per fused model (null without a pair of values). */
export function meanDrops(rows: AccuracyRow[], fused: string[]): Array<{ split: string; drops: Record<string, number | null> }> {
  const splits = [...new Set(rows.map((r) => r.split))];
  return splits.map((split) => ({
    split,
    drops: Object.fromEntries(fused.map((name) => {
      const d = rows.filter((r) => r.split === split && r.own !== null && r.fused[name] !== null).map((r) => r.fused[name]! - r.own!);
      return [name, d.length ? d.reduce((a, b) => a + b, 0) / d.length : null];
    })),
  }));
}

const pct = (v: number | null) => (v === null ? '—' : (v * 100).toFixed(2));
/** A change in accuracy in percentage points, with a real minus sign. */
export function formatDelta(d: number | null): string {
  if (d === null) return '—';
  const v = d * 100;
  return `${v < 0 ? '−' : v > 0 ? '+' : '±'}${Math.abs(v).toFixed(2)}`;
}

/** The table as text (accuracy.txt, printed at the end of a run). */
export function accuracyText(f: FusionEvaluations): string {
  const rows = accuracyRows(f);
  const fused = f.fused.map((x) => x.name);
  const table: string[][] = [['model', 'set', 'own', ...fused.map((n) => `${n} (Δ)`)]];
  for (const r of rows) table.push([r.model, r.split, pct(r.own), ...fused.map((n) => `${pct(r.fused[n]!)} (${formatDelta(r.own !== null && r.fused[n] !== null ? r.fused[n]! - r.own : null)})`)]);
  for (const m of meanDrops(rows, fused)) table.push(['mean Δ', m.split, '', ...fused.map((n) => formatDelta(m.drops[n]!))]);
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  const lines = table.map((r) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd());
  return `Accuracy (%) of each model on its own sets, and of each fused model on the same sets (Δ: fused − own, points)\n${lines.join('\n')}\n`;
}

function td(content: string, cls?: string, title?: string): string {
  return html('td', { class: cls, title }, content);
}

/** Links to the report's overlap sections: the one named `name`, or with '*' every one. */
export type OverlapAnchor = (name: string) => Array<{ id: string; label: string }>;

export function fusionSection(f: FusionEvaluations, overlap: OverlapAnchor): string {
  const parts: string[] = [html('h2', {}, 'Fusion: what the fused model keeps and forgets')];
  const rows = accuracyRows(f);
  const fused = f.fused.map((x) => x.name);
  parts.push(html('p', { class: 'sub' }, 'Accuracy (%) of each model on its own evaluation sets, and of each fused model (' + fused.map((n) => html('em', {}, escapeXml(n))).join(', ')
    + ') on the same sets. Δ is fused − own, in percentage points. The paper\'s finding: the shared task (original data) is kept, each model\'s own shortcut (synthetic data) forgotten.'));
  const head = ['Model', 'Set', 'Own', ...fused.flatMap((n) => [n, 'Δ'])];
  const body = rows.map((r) => [
    td(escapeXml(r.model)), td(escapeXml(r.split)), td(pct(r.own), 'num'),
    ...fused.flatMap((n) => {
      const d = r.own !== null && r.fused[n] !== null ? r.fused[n]! - r.own : null;
      return [td(pct(r.fused[n]!), 'num'), td(formatDelta(d), `num delta${d !== null && d < -0.05 ? ' drop' : ''}`)];
    }),
  ]);
  const means = meanDrops(rows, fused).map((m) => [
    td('mean Δ', 'final'), td(escapeXml(m.split), 'final'), td(''),
    ...fused.flatMap((n) => [td(''), td(formatDelta(m.drops[n]!), 'num final')]),
  ]);
  parts.push(rows.length === 0
    ? html('p', { class: 'empty' }, 'The evaluations list no sets.')
    : html('div', { class: 'scroll' }, html('table', { class: 'fusion-table' }, [
      html('thead', {}, html('tr', {}, head.map((h) => html('th', {}, escapeXml(h))))),
      html('tbody', {}, [...body, ...means].map((r) => html('tr', {}, r))),
    ])));
  const links = overlap('*');
  if (links.length) {
    parts.push(html('p', {}, `The paper's explanation is in the Fisher overlap (${links.map((l) => html('a', { href: `#${l.id}` }, escapeXml(l.label))).join(', ')}): `
      + 'knowledge the models share lives in weights whose Fisher information overlaps, so averaging keeps it; each model\'s unshared shortcut lives in weights the others leave alone, so averaging dilutes it.'));
  }
  return html('section', { id: 'fusion' }, parts);
}

function interpolationSeries(path: InterpolationPath): LineSeries[] {
  const sets: string[] = [];
  for (const p of path.points) for (const s of Object.keys(p.evaluation.data.sets)) if (!sets.includes(s)) sets.push(s);
  const rank = (s: string) => {
    const m = splitSetName(s).model;
    return m === path.from ? 0 : m === path.to ? 1 : 2;
  };
  sets.sort((a, b) => rank(a) - rank(b));
  const others: string[] = [];
  return sets.map((set) => {
    const { model, split } = splitSetName(set);
    const owner = model ?? set;
    if (rank(set) === 2 && !others.includes(owner)) others.push(owner);
    const color = seriesStyle(rank(set) < 2 ? rank(set) : 2 + others.indexOf(owner)).color;
    // Synthetic (shortcut) sets solid, original sets dashed, as the paper's figure.
    const dash = /^synth/.test(split) ? '' : /^orig/.test(split) ? '7 3' : '2 3';
    return {
      name: model ? `${model} ${split}` : set,
      style: { color, dash },
      points: path.points.map((p) => ({ x: p.alpha, y: finite(p.evaluation.data.sets[set]?.accuracy) ? p.evaluation.data.sets[set]!.accuracy! : null })),
    };
  });
}

const fileName = (s: string) => s.replace(/[^a-zA-Z0-9_.-]/g, '_');

export function interpolationSection(paths: InterpolationPath[], overlap: OverlapAnchor, figures: Record<string, string>): string {
  const parts: string[] = [html('h2', {}, 'Interpolation')];
  parts.push(html('p', { class: 'sub' }, 'Accuracy along the straight line between two models, θ = (1 − α)·θ₁ + α·θ₂, on each model\'s sets: solid lines synthetic (shortcut) data, dashed lines original data.'));
  for (const path of paths) {
    const title = `${path.from} → ${path.to}`;
    const chart = lineChart(interpolationSeries(path), {
      chart: 'interpolation', title: `Interpolation ${title}`, xLabel: `α (0 = ${path.from}, 1 = ${path.to})`, yLabel: 'accuracy',
      emptyMessage: 'no accuracies recorded', yDomain: [0, 1],
    });
    figures[`interpolation-${fileName(path.pair)}.svg`] = chart;
    const link = overlap(path.pair)[0];
    parts.push(html('h3', { id: `interpolation-${fileName(path.pair)}` }, escapeXml(title)));
    parts.push(html('figure', {}, [
      html('div', { class: 'chart' }, chart),
      html('figcaption', {}, `Accuracy of the interpolated model against α (${path.points.length} points).`
        + (link ? ` Where the two models keep their knowledge: ${html('a', { href: `#${link.id}` }, escapeXml(`Fisher overlap — ${link.label}`))}.` : '')),
    ]));
    const sets = interpolationSeries(path);
    parts.push(html('details', {}, [
      html('summary', {}, 'Values'),
      html('div', { class: 'scroll' }, html('table', {}, [
        html('thead', {}, html('tr', {}, ['α', ...sets.map((s) => s.name)].map((h) => html('th', {}, escapeXml(h))))),
        html('tbody', {}, path.points.map((p, i) => html('tr', {}, [td(String(p.alpha), 'num'), ...sets.map((s) => td(pct(s.points[i]!.y), 'num'))]))),
      ])),
    ]));
  }
  return html('section', { id: 'interpolation' }, parts);
}
