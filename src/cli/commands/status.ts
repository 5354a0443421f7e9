// `fisherflow status`: every stage up to date or stale, and for each stale stage why.
import type { Command } from 'commander';
import { relative } from 'node:path';
import { openWorkspace } from '../../plan/workspace.js';
import { planPipeline } from '../../plan/plan.js';
import { formatReason, reasonJson, type StaleReason } from '../../plan/reasons.js';
import { addPipelineOptions, out, workspaceOptions } from '../options.js';

export interface StatusRow {
  name: string;
  status: 'up-to-date' | 'stale';
  key: string | null;
  reasons: StaleReason[];
}

export function register(program: Command): void {
  addPipelineOptions(program.command('status').argument('[pipeline]', 'pipeline file'))
    .description('show which stages are up to date, and exactly why the others would rerun')
    .option('--json', 'machine-readable output: each stale stage with its reasons as typed objects ({kind, ...fields, text})')
    .action(async (file: string | undefined, o: { set: string[]; params?: string; store?: string; json?: boolean }) => {
      const { pipeline, stages } = await pipelineStatus(file, o);
      if (o.json) {
        out(`${JSON.stringify({ pipeline, stages: stages.map((p) => ({ name: p.name, status: p.status, key: p.key, reasons: p.reasons.map(reasonJson) })) }, null, 2)}\n`);
        return;
      }
      let stale = 0;
      for (const p of stages) {
        if (p.status === 'stale') stale++;
        out(`${p.status === 'stale' ? 'stale     ' : 'up-to-date'}  ${p.name}\n`);
        for (const r of p.reasons) out(`              - ${formatReason(r)}\n`);
      }
      out(`\n${stages.length - stale} up to date, ${stale} stale\n`);
    });
}

/** The status of every stage, in DAG order, and the pipeline's label. */
export async function pipelineStatus(file: string | undefined, o: { set?: string[]; params?: string; store?: string }): Promise<{ pipeline: string; stages: StatusRow[] }> {
  const { fastPathArgs, tryFastPath } = await import('../../run/fast-path.js');
  const args = fastPathArgs(file, o);
  // Nothing changed since the last successful run (see src/run/fast-path.ts): all up to date.
  const hit = tryFastPath(args);
  if (hit) {
    return {
      pipeline: relative(process.cwd(), args.pipelineFile) || args.pipelineFile,
      stages: hit.stages.map((st) => ({ name: st.name, status: 'up-to-date', key: st.key, reasons: [] })),
    };
  }
  const ws = await openWorkspace(file, workspaceOptions(o));
  const plans = planPipeline(ws);
  ws.statCache.save();
  return { pipeline: ws.label, stages: ws.dag.order.map((n) => plans.get(n)!) };
}
