// The overlaps as rows a reader can trust: each pair with a label distinct across the whole
// report, its value to 4 significant digits, its bootstrap interval, and the accuracy of the
// model behind each side, with a warning where that model is at chance. One source for the HTML
// overlap tables and for summary.txt, the table printed at the end of a run.

import { chanceWarning, modelOfFisher, type ModelAccuracy } from './chance.js';
import type { OverlapPair, OverlapSet } from './report-data.js';

export interface SideAccuracy {
  fisher: string;
  model: string | null;
  accuracy: ModelAccuracy | null;
  /** One line per set of that model at chance. */
  warnings: string[];
}

export interface OverlapRow {
  set: string | null;
  pair: OverlapPair;
  /** The pair's label, made unique across the report (the set's name added where labels repeat). */
  label: string;
  sides: [SideAccuracy, SideAccuracy];
}

/** A number to 4 significant digits ("0.9812", "0.01234"); "—" when missing. */
export function sig4(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toPrecision(4) : '—';
}

function side(fisher: string, models: Map<string, ModelAccuracy>): SideAccuracy {
  const model = modelOfFisher(fisher, models.keys());
  const accuracy = model ? models.get(model)! : null;
  const warnings = (accuracy?.sets ?? []).filter((s) => s.check?.atChance).map((s) => chanceWarning(model!, s.split, s.check!));
  return { fisher, model, accuracy, warnings };
}

export function overlapRows(sets: readonly OverlapSet[], models: Map<string, ModelAccuracy>): OverlapRow[] {
  const rows: OverlapRow[] = [];
  for (const set of sets) {
    for (const pair of set.data.pairs ?? []) {
      rows.push({ set: set.name, pair, label: pair.label ?? `${pair.a} ~ ${pair.b}`, sides: [side(pair.a, models), side(pair.b, models)] });
    }
  }
  // Labels that repeat (the notebook calls every shared pair "SHARED (ORIG)") get their set's
  // name, or else their Fishers' names, so that no two rows read the same.
  const count = (l: string) => rows.filter((r) => r.label === l).length;
  for (const r of rows.filter((x) => count(x.label) > 1)) r.label = r.set ? `${r.label} [${r.set}]` : `${r.label} [${r.pair.a} ~ ${r.pair.b}]`;
  for (const r of rows.filter((x) => count(x.label) > 1)) r.label = `${r.label} [${r.pair.a} ~ ${r.pair.b}]`;
  return rows;
}

/** "tic: synthetic_dev 99.86 %, original_dev 76.15 %" (a ⚠ after each set at chance). */
export function accuracyNote(s: SideAccuracy, warn = '⚠'): string {
  if (!s.accuracy) return s.model ?? '—';
  return `${s.model}: ${s.accuracy.sets.map((x) => `${x.split} ${x.accuracy === null ? '—' : `${(x.accuracy * 100).toFixed(2)} %`}${x.check?.atChance ? ` ${warn}` : ''}`).join(', ')}`;
}

/** summary.txt: the overlaps with intervals and accuracies, then the at-chance warnings. */
export function overlapSummaryText(rows: readonly OverlapRow[]): string {
  if (rows.length === 0) return '';
  const hasInterval = rows.some((r) => r.pair.interval);
  const level = rows.find((r) => r.pair.interval?.level !== undefined)?.pair.interval?.level ?? 0.95;
  const hasAcc = rows.some((r) => r.sides.some((s) => s.accuracy));
  const head = ['pair', 'overlap', ...(hasInterval ? [`${Math.round(level * 100)}% interval`] : []), ...(hasAcc ? ['model A accuracy', 'model B accuracy'] : [])];
  const table = [head, ...rows.map((r) => [
    r.label, sig4(r.pair.overlap),
    ...(hasInterval ? [r.pair.interval ? `[${sig4(r.pair.interval.low)}, ${sig4(r.pair.interval.high)}]` : 'none'] : []),
    ...(hasAcc ? r.sides.map((s) => accuracyNote(s, '(AT CHANCE)')) : []),
  ])];
  const widths = head.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  const lines = table.map((row) => row.map((cell, c) => (c === 1 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd());
  const warnings = [...new Set(rows.flatMap((r) => r.sides.flatMap((s) => s.warnings)))];
  const out = ['Fisher overlap of each pair (1 = the same weights matter to both models)', ...lines];
  if (!hasInterval) out.push('No intervals: give the fim stages chunks: K and the overlap stage bootstrap: N.');
  if (warnings.length) {
    out.push('', 'WARNING: these models are at chance, so the overlaps that use them compare models without that knowledge:');
    for (const w of warnings) out.push(`  ${w}`);
  }
  return `${out.join('\n')}\n`;
}
