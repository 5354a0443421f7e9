// `fisherflow exp show`: one row for the working tree, one per commit of the current branch
// (first-parent history) and one per experiment, listed under the commit it ran on; columns are
// params and metrics.
import { dirname, join, relative } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { lockPathFor, parseLockText, readLock, type LockFile } from '../cache/lockfile.js';
import { UserError } from '../errors.js';
import { flattenKeys, type Params } from '../pipeline/params.js';
import { readInputText } from '../pipeline/source.js';
import { openWorkspace, projectRoot } from '../plan/workspace.js';
import { table } from '../cli/format.js';
import { metricsFromLock, type MetricsSnapshot } from '../metrics/collect.js';
import type { FlatMetrics, MetricValue } from '../metrics/flatten.js';
import { currentBranch, history, readBlobs } from './git.js';
import { committedFileReader, currentResults, pipelineContext, pipelineParams, workspaceFileFallback } from './revision.js';
import { listExperiments } from './records.js';
import { formatValue } from './diff.js';
import { isHeadlineMetric } from '../metrics/filter.js';

export interface ShowRow {
  kind: 'workspace' | 'commit' | 'experiment';
  name: string;
  /** The commit (for an experiment: its base commit); null for the working tree. */
  rev: string | null;
  created: string | null;
  params: Record<string, unknown>;
  /** Metrics file label → dotted key → value. */
  metrics: Record<string, FlatMetrics>;
  /** Experiments: the `--set` overrides they ran with. */
  set?: string[];
  /** Commits: the subject line. */
  subject?: string;
}

export interface ShowTable {
  pipeline: string;
  rows: ShowRow[];
}

/** The params the YAML and its params files declare; {} when they cannot be read. */
function yamlParams(text: string, label: string, read: (name: string) => string | undefined, fileLabel: (name: string) => string): Params {
  try {
    return pipelineParams(text, label, read, fileLabel);
  } catch {
    return {};
  }
}

export async function collectShowTable(pipelineFile: string, opts: { limit: number; store?: string }): Promise<ShowTable> {
  const ctx = pipelineContext(pipelineFile, "'fisherflow exp show'", opts.store);
  const file = ctx.pipelineFile;
  const root = projectRoot(dirname(file));
  const pipelineRel = relative(root, file).split('\\').join('/');
  const rows: ShowRow[] = [];

  // The working tree: its YAML params and the metrics of its current results.
  if (existsSync(file)) {
    let lock: LockFile | undefined;
    try {
      lock = currentResults(await openWorkspace(file, { store: opts.store })).lock;
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      lock = readLock(lockPathFor(file)); // an invalid YAML in the working tree still has its last run
    }
    const metrics = metricsFromLock(lock, ctx.store, workspaceFileFallback(dirname(file)));
    rows.push({ kind: 'workspace', name: 'workspace', rev: null, created: null, params: flattenKeys(yamlParams(readInputText(file, pipelineRel), pipelineRel, (n) => (existsSync(join(dirname(file), n)) ? readFileSync(join(dirname(file), n), 'utf8') : undefined), (n) => n)), metrics: metrics.files });
  }

  const experiments = listExperiments(root, pipelineRel);
  const placed = new Set<string>();
  const commits = history(ctx.repo, opts.limit);
  const specs = commits.flatMap((c) => [`${c.sha}:${ctx.pipelinePath}`, `${c.sha}:${ctx.lockPath}`]);
  const blobs = readBlobs(ctx.repo, specs);
  const branch = currentBranch(ctx.repo) ?? 'HEAD';
  commits.forEach((c, i) => {
    const yaml = blobs.get(`${c.sha}:${ctx.pipelinePath}`);
    if (yaml === undefined) return; // before the pipeline existed
    const lockText = blobs.get(`${c.sha}:${ctx.lockPath}`);
    const lock = lockText === undefined ? undefined : parseLockText(lockText);
    const metrics: MetricsSnapshot = metricsFromLock(lock, ctx.store, (ref, entry) => {
      if (entry.type !== 'command') return undefined;
      const spec = `${c.sha}:${ctx.dirPath ? `${ctx.dirPath}/` : ''}${ref.path}`;
      return readBlobs(ctx.repo, [spec]).get(spec);
    });
    // What ran at that commit: the lock's params; without a lock, the YAML's.
    const params = lock ? lock.params : yamlParams(yaml, `${c.short}:${ctx.pipelinePath}`, committedFileReader(ctx, c.sha), (n) => `${c.short}:${n}`);
    rows.push({ kind: 'commit', name: i === 0 ? branch : `${branch}~${i}`, rev: c.sha, created: c.date, params: flattenKeys(params), metrics: metrics.files, subject: c.subject });
    for (const e of experiments.filter((x) => x.baseCommit === c.sha)) {
      placed.add(e.name);
      rows.push(experimentRow(e));
    }
  });
  for (const e of experiments) if (!placed.has(e.name)) rows.push(experimentRow(e));
  return { pipeline: pipelineRel, rows };
}

function experimentRow(e: ReturnType<typeof listExperiments>[number]): ShowRow {
  return { kind: 'experiment', name: e.name, rev: e.baseCommit, created: e.createdAt, params: flattenKeys(e.params), metrics: e.metrics, set: e.set };
}

/** Column names: params by dotted key, metrics as `file:key`. */
export function showColumns(t: ShowTable, opts: { allParams?: boolean } = {}): { params: string[]; metrics: string[]; hiddenParams: number } {
  const params = new Set<string>();
  const metrics = new Set<string>();
  for (const r of t.rows) {
    for (const k of Object.keys(r.params)) params.add(k);
    for (const k of Object.keys(metricColumns(r))) metrics.add(k);
  }
  let ps = [...params].sort();
  const all = ps.length;
  if (!opts.allParams && t.rows.length > 1) {
    ps = ps.filter((k) => new Set(t.rows.map((r) => JSON.stringify(r.params[k]))).size > 1);
  }
  return { params: ps, metrics: [...metrics].sort(), hiddenParams: all - ps.length };
}

export function metricColumns(r: ShowRow): Record<string, MetricValue> {
  const out: Record<string, MetricValue> = {};
  for (const [file, values] of Object.entries(r.metrics)) for (const [k, v] of Object.entries(values)) out[k === '' ? file : `${file}:${k}`] = v;
  return out;
}

function when(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

const MAX_TEXT_METRIC_COLUMNS = 20;

export function renderShowText(t: ShowTable, opts: { allParams?: boolean; allMetrics?: boolean; precision?: number } = {}): string {
  if (t.rows.length === 0) return `${t.pipeline}: nothing to show (no commits with this pipeline, no experiments)\n`;
  const cols = showColumns(t, opts);
  // Curves, per-epoch rows and text fields only with --all (see isHeadlineMetric).
  const headline = cols.metrics.filter((m) => opts.allMetrics || t.rows.every((r) => { const v = metricColumns(r)[m]; return v === undefined || isHeadlineMetric(m.slice(m.indexOf(':') + 1), v); }));
  const notHeadline = cols.metrics.length - headline.length;
  cols.metrics = headline;
  // With one metrics file, its name in every column header is noise.
  const files = new Set(cols.metrics.map((m) => m.split(':')[0]));
  const bare = (m: string) => (m.includes(':') ? m.slice(m.indexOf(':') + 1) : m);
  const clash = cols.metrics.some((m) => cols.params.includes(bare(m)));
  const metricHeader = (m: string) => (files.size === 1 && !clash ? bare(m) : m);
  // A metrics file with hundreds of keys would make the table unreadable; --json/--csv keep all.
  const hiddenMetrics = Math.max(0, cols.metrics.length - MAX_TEXT_METRIC_COLUMNS);
  if (hiddenMetrics) cols.metrics = cols.metrics.slice(0, MAX_TEXT_METRIC_COLUMNS);
  const header = ['name', 'rev', 'created', ...cols.params, ...cols.metrics.map(metricHeader)];
  const rows: string[][] = [];
  t.rows.forEach((r, i) => {
    const nextIsExp = t.rows[i + 1]?.kind === 'experiment' && t.rows[i + 1].rev === r.rev;
    const name = r.kind === 'experiment' ? `${nextIsExp ? '├─' : '└─'} ${r.name}` : r.name;
    const m = metricColumns(r);
    rows.push([
      name,
      r.rev ? r.rev.slice(0, 7) : '-',
      when(r.created),
      ...cols.params.map((k) => formatValue(r.params[k])),
      ...cols.metrics.map((k) => formatValue(m[k], opts.precision ?? 6)),
    ]);
  });
  const lines = [table(rows, header)];
  if (notHeadline) lines.push(`(${notHeadline} metric columns inside lists, such as loss curves and per-epoch rows, or of text not shown; --all shows them)`);
  if (hiddenMetrics) lines.push(`(${hiddenMetrics} more metric columns not shown; pick some with --metric PATTERN, or use --csv / --json)`);
  if (cols.hiddenParams) lines.push(`(${cols.hiddenParams} param${cols.hiddenParams > 1 ? 's' : ''} equal in every row not shown; --all-params shows them)`);
  return `${lines.join('\n')}\n`;
}

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV with every param (`params.KEY`) and metric (`FILE:KEY`) as a column. */
export function renderShowCsv(t: ShowTable): string {
  const cols = showColumns(t, { allParams: true });
  const header = ['kind', 'name', 'rev', 'created', ...cols.params.map((p) => `params.${p}`), ...cols.metrics];
  const lines = [header.map(csvCell).join(',')];
  for (const r of t.rows) {
    const m = metricColumns(r);
    lines.push([r.kind, r.name, r.rev ?? '', r.created ?? '', ...cols.params.map((k) => r.params[k]), ...cols.metrics.map((k) => m[k])].map(csvCell).join(','));
  }
  return `${lines.join('\n')}\n`;
}
