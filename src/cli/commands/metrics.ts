// `fisherflow metrics show`: the metrics files of the last run recorded in the lock file.
import type { Command } from 'commander';
import { openWorkspace } from '../../plan/workspace.js';
import { formatReasons, reasonJson, type StaleReason } from '../../plan/reasons.js';
import { isHeadlineMetric, metricFilter } from '../../metrics/filter.js';
import { table } from '../format.js';
import { examples, metricOption, out, precisionOption, storeOption } from '../options.js';

export function register(program: Command): void {
  const metrics = program
    .command('metrics')
    .description('show the metrics files stages declare (`metrics:`)')
    .addHelpText('after', examples(['fisherflow metrics show', 'fisherflow metrics show --all']));
  metrics
    .command('show')
    .argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)')
    .description('print the metrics of the last run recorded in the lock file, keys flattened as a.b.c')
    .option('--json', 'machine-readable output (every metric)')
    .option('--all', 'every metric: also values inside lists (per-step curves, per-epoch rows) and text fields')
    .addOption(storeOption())
    .addOption(metricOption())
    .addOption(precisionOption())
    .addHelpText('after', examples(['fisherflow metrics show', 'fisherflow metrics show --all                 # loss curves and per-epoch rows too', "fisherflow metrics show --metric 'overlap.*'", 'fisherflow metrics show pipelines/demo.yaml --json']))
    .action(metricsShow);
}

export async function metricsShow(file: string | undefined, o: { json?: boolean; all?: boolean; store?: string; metric: string[]; precision: number }): Promise<void> {
  const [{ currentResults, workspaceFileFallback }, { metricsFromLock }, { formatValue }] = await Promise.all([
    import('../../experiments/revision.js'),
    import('../../metrics/collect.js'),
    import('../../experiments/diff.js'),
  ]);
  const ws = await openWorkspace(file, { store: o.store });
  const pick = metricFilter(o.metric);
  const cur = currentResults(ws);
  const snap = metricsFromLock(cur.lock, ws.store, workspaceFileFallback(ws.pipeline.dir));
  for (const [f, values] of Object.entries(snap.files)) {
    for (const k of Object.keys(values)) if (!pick(f, k)) delete values[k];
    if (Object.keys(values).length === 0) delete snap.files[f];
  }
  // Metrics-producing stages that would rerun now: their numbers are from an older run.
  const stale: Record<string, StaleReason[]> = {};
  for (const [n, e] of Object.entries(cur.lock?.stages ?? {})) if (e.metrics?.length && cur.stale[n]) stale[n] = cur.stale[n];
  if (o.json) {
    out(`${JSON.stringify({ pipeline: ws.label, metrics: snap.files, missing: snap.missing, stale: Object.fromEntries(Object.entries(stale).map(([n, r]) => [n, r.map(reasonJson)])) }, null, 2)}\n`);
    return;
  }
  const declared = [...ws.pipeline.stages.values()].some((s) => s.metrics.length);
  if (!cur.lock || Object.keys(cur.lock.stages).length === 0) {
    out(declared ? `${ws.label}: no lock file yet; run the pipeline first\n` : `${ws.label}: no stage declares metrics (add \`metrics: [file.json]\` to a stage)\n`);
    return;
  }
  const rows: string[][] = [];
  let hidden = 0;
  for (const [f, values] of Object.entries(snap.files)) {
    for (const [k, v] of Object.entries(values)) {
      if (o.all || isHeadlineMetric(k, v)) rows.push([f, k, formatValue(v, o.precision)]);
      else hidden++;
    }
  }
  if (rows.length) out(`${table(rows, ['file', 'metric', 'value'])}\n`);
  if (hidden) out(`(${hidden} more: values inside lists, such as loss curves and per-epoch rows, and text fields; --all shows them)\n`);
  else if (!snap.missing.length) out(declared ? `${ws.label}: no metrics recorded yet; run the pipeline\n` : `${ws.label}: no stage declares metrics\n`);
  for (const m of snap.missing) out(`note: ${m.file} (stage ${m.stage}): ${m.reason}\n`);
  for (const [n, reasons] of Object.entries(stale)) out(`note: stage ${n} is stale (${formatReasons(reasons).join('; ')}); its metrics are from its last run\n`);
}
