// `fisherflow diff`: params, stage keys and metrics of two revisions side by side.
import { canonicalJson } from '../cache/hash.js';
import { flattenKeys } from '../pipeline/params.js';
import { table } from '../cli/format.js';
import type { MetricValue } from '../metrics/flatten.js';
import type { RevisionState } from './revision.js';
import { formatReasons, reasonJson, type StaleReason } from '../plan/reasons.js';

export type ChangeStatus = 'added' | 'removed' | 'changed' | 'unchanged';

export interface ParamChange {
  key: string;
  old: unknown;
  new: unknown;
  status: ChangeStatus;
}

export interface StageChange {
  stage: string;
  old: string | null;
  new: string | null;
  status: ChangeStatus;
  /** Working tree only: why the stage would rerun now. */
  reasons?: StaleReason[];
}

export interface MetricChange {
  file: string;
  key: string;
  old: MetricValue | undefined;
  new: MetricValue | undefined;
  /** new − old when both are numbers. */
  change: number | null;
  status: ChangeStatus;
}

export interface RevisionInfo {
  label: string;
  commit: string | null;
}

export interface DiffResult {
  pipeline: string;
  a: RevisionInfo;
  b: RevisionInfo;
  params: ParamChange[];
  stages: StageChange[];
  metrics: MetricChange[];
  /** Metrics files that could not be read on either side, and other remarks. */
  notes: string[];
}

function status(inA: boolean, inB: boolean, same: boolean): ChangeStatus {
  if (!inA) return 'added';
  if (!inB) return 'removed';
  return same ? 'unchanged' : 'changed';
}

/** Subtraction without float noise in the last digits (0.3 − 0.1 → 0.2, not 0.19999999999999998). */
export function numericChange(a: unknown, b: unknown): number | null {
  if (typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) || !Number.isFinite(b)) return null;
  return Number((b - a).toPrecision(12));
}

const byKey = <T>(get: (t: T) => string) => (x: T, y: T) => (get(x) < get(y) ? -1 : get(x) > get(y) ? 1 : 0);

export function diffRevisions(pipeline: string, a: RevisionState, b: RevisionState, opts: { all?: boolean } = {}): DiffResult {
  const keep = (s: ChangeStatus) => opts.all || s !== 'unchanged';

  const pa = flattenKeys(a.params);
  const pb = flattenKeys(b.params);
  const params: ParamChange[] = [];
  for (const key of new Set([...Object.keys(pa), ...Object.keys(pb)])) {
    const st = status(key in pa, key in pb, canonicalJson(pa[key]) === canonicalJson(pb[key]));
    if (keep(st)) params.push({ key, old: pa[key], new: pb[key], status: st });
  }
  params.sort(byKey((p) => p.key));

  const stages: StageChange[] = [];
  for (const stage of new Set([...Object.keys(a.stages), ...Object.keys(b.stages)])) {
    const sa = a.stages[stage];
    const sb = b.stages[stage];
    const st = status(Boolean(sa), Boolean(sb), sa?.key != null && sa.key === sb?.key);
    if (!keep(st)) continue;
    stages.push({ stage, old: sa?.key ?? null, new: sb?.key ?? null, status: st, ...(sb?.reasons?.length ? { reasons: sb.reasons } : {}) });
  }
  stages.sort(byKey((s) => s.stage));

  const metrics: MetricChange[] = [];
  // A file one side could not read is not "added" or "removed"; the notes say it is unavailable.
  const unreadable = new Set([...a.metrics.missing, ...b.metrics.missing].map((m) => m.file));
  for (const file of new Set([...Object.keys(a.metrics.files), ...Object.keys(b.metrics.files)])) {
    if (unreadable.has(file) && !(file in a.metrics.files && file in b.metrics.files)) continue;
    const ma = a.metrics.files[file] ?? {};
    const mb = b.metrics.files[file] ?? {};
    for (const key of new Set([...Object.keys(ma), ...Object.keys(mb)])) {
      const st = status(key in ma, key in mb, canonicalJson(ma[key]) === canonicalJson(mb[key]));
      if (keep(st)) metrics.push({ file, key, old: ma[key], new: mb[key], change: numericChange(ma[key], mb[key]), status: st });
    }
  }
  metrics.sort((x, y) => byKey<MetricChange>((m) => m.file)(x, y) || byKey<MetricChange>((m) => m.key)(x, y));

  const notes = [...a.notes, ...b.notes];
  for (const side of [a, b]) for (const m of side.metrics.missing) notes.push(`${side.label}: metrics ${m.file} (stage ${m.stage}) unavailable: ${m.reason}`);
  const unique = [...new Set(notes)];
  const info = (s: RevisionState): RevisionInfo => ({ label: s.label, commit: s.commit?.sha ?? null });
  return { pipeline, a: info(a), b: info(b), params, stages, metrics, notes: unique };
}

// ---- rendering ----

export function formatValue(v: unknown, precision?: number): string {
  if (v === undefined) return '-';
  if (typeof v === 'number') return precision && !Number.isInteger(v) ? String(Number(v.toPrecision(precision))) : String(v);
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function formatChange(c: number | null, precision?: number): string {
  if (c === null) return '';
  const s = formatValue(c, precision);
  return c > 0 ? `+${s}` : s;
}

function revLabel(r: RevisionInfo): string {
  return r.commit && r.commit.slice(0, 7) !== r.label ? `${r.label} (${r.commit.slice(0, 7)})` : r.label;
}

function stageKeyText(s: StageChange, which: 'old' | 'new'): string {
  const k = s[which];
  if (k === null) return which === 'new' && s.status !== 'removed' ? '(pending upstream)' : '-';
  return k.slice(0, 10);
}

function metricName(m: MetricChange): string {
  return m.key === '' ? m.file : `${m.file}:${m.key}`;
}

export function renderDiffText(d: DiffResult, precision = 6): string {
  const A = d.a.label;
  const B = d.b.label;
  const out: string[] = [`${d.pipeline}: ${revLabel(d.a)} → ${revLabel(d.b)}`];
  if (!d.params.length && !d.stages.length && !d.metrics.length) out.push('', 'no differences in params, stage keys or metrics');
  if (d.params.length) {
    out.push('', 'Params', indent(table(d.params.map((p) => [p.key, formatValue(p.old), formatValue(p.new)]), ['param', A, B])));
  }
  if (d.stages.length) {
    out.push('', 'Stages (key: what a result is cached under; a changed key means the stage ran or would run differently)');
    out.push(indent(table(d.stages.map((s) => [s.stage, stageKeyText(s, 'old'), stageKeyText(s, 'new'), s.status === 'unchanged' ? '' : s.status]), ['stage', A, B, 'change'])));
    for (const s of d.stages) if (s.reasons?.length) out.push(`  ${s.stage} would rerun: ${oneLine(formatReasons(s.reasons).join('; '))}`);
  }
  if (d.metrics.length) {
    out.push('', 'Metrics', indent(table(d.metrics.map((m) => [metricName(m), formatValue(m.old, precision), formatValue(m.new, precision), formatChange(m.change, precision)]), ['metric', A, B, 'change'])));
  }
  const staleMetrics = d.stages.some((s) => s.reasons?.length);
  if (staleMetrics && d.b.label === 'workspace') out.push('', 'note: workspace metrics come from the last run (the lock file); stages marked "would rerun" may change them');
  for (const n of d.notes) out.push(`note: ${n}`);
  return `${out.join('\n')}\n`;
}

/** Reasons quote commands, which may span lines; a table row must not. */
function oneLine(s: string): string {
  return s.replace(/\r?\n/g, '\\n');
}

function indent(s: string): string {
  return s.replace(/^/gm, '  ');
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function mdTable(header: string[], rows: string[][]): string {
  const lines = [`| ${header.map(mdCell).join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.map(mdCell).join(' | ')} |`);
  return lines.join('\n');
}

/** Markdown for a pull request description: one table per section. */
export function renderDiffMarkdown(d: DiffResult, precision = 6): string {
  const A = `\`${revLabel(d.a)}\``;
  const B = `\`${revLabel(d.b)}\``;
  const out: string[] = [`**fisherflow diff** \`${d.pipeline}\`: ${A} → ${B}`];
  if (!d.params.length && !d.stages.length && !d.metrics.length) out.push('', 'No differences in params, stage keys or metrics.');
  if (d.metrics.length) out.push('', '### Metrics', '', mdTable(['Metric', A, B, 'Change'], d.metrics.map((m) => [`\`${metricName(m)}\``, formatValue(m.old, precision), formatValue(m.new, precision), formatChange(m.change, precision)])));
  if (d.params.length) out.push('', '### Params', '', mdTable(['Param', A, B], d.params.map((p) => [`\`${p.key}\``, formatValue(p.old), formatValue(p.new)])));
  if (d.stages.length) out.push('', '### Stages', '', mdTable(['Stage', A, B, 'Change'], d.stages.map((s) => [`\`${s.stage}\``, `\`${stageKeyText(s, 'old')}\``, `\`${stageKeyText(s, 'new')}\``, s.reasons?.length ? `${s.status}: would rerun (${oneLine(formatReasons(s.reasons).join('; '))})` : s.status])));
  if (d.notes.length) out.push('', ...d.notes.map((n) => `> ${n}`));
  return `${out.join('\n')}\n`;
}

/** JSON: `undefined` sides become null, with `status` telling "absent" from "null". */
export function diffJson(d: DiffResult): unknown {
  const n = (v: unknown) => (v === undefined ? null : v);
  return {
    ...d,
    params: d.params.map((p) => ({ ...p, old: n(p.old), new: n(p.new) })),
    stages: d.stages.map((s) => (s.reasons ? { ...s, reasons: s.reasons.map(reasonJson) } : s)),
    metrics: d.metrics.map((m) => ({ ...m, old: n(m.old), new: n(m.new) })),
  };
}
