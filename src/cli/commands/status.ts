// `fisherflow status`: every stage up to date or stale, and for each stale stage why.
import type { Command } from 'commander';
import { relative } from 'node:path';
import { openWorkspace, printWarningText } from '../../plan/workspace.js';
import { planPipeline } from '../../plan/plan.js';
import { actionJson, formatAction, formatReason, reasonJson, type StaleAction, type StaleReason } from '../../plan/reasons.js';
import type { Workspace } from '../../plan/workspace.js';
import type { StagePlan } from '../../plan/plan.js';
import { upstreamClosure } from '../../graph/dag.js';
import { addPipelineOptions, addRemoteOption, examples, out, pipelineAndTargets, workspaceOptions } from '../options.js';
import { resolveTargets } from '../stage-target.js';

export interface StatusRow {
  name: string;
  status: 'up-to-date' | 'stale';
  key: string | null;
  reasons: StaleReason[];
  /** With a remote: whether `run` would fetch this stale stage or run it. */
  action?: StaleAction;
}

export function register(program: Command): void {
  addRemoteOption(addPipelineOptions(program.command('status').argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)').argument('[targets...]', 'only these stages and what they need')), true)
    .description('show which stages are up to date, and exactly why the others would rerun')
    .option('--json', 'machine-readable output: each stale stage with its reasons as typed objects ({kind, ...fields, text})')
    .addHelpText('after', examples(['fisherflow status', 'fisherflow status --set take=100   # what a run with take=100 would rerun, and why', 'fisherflow status pipelines/demo.yaml --json', 'fisherflow status train           # train and what it needs']))
    .action(async (first: string | undefined, rest: string[], o: { set: string[]; params?: string; store?: string; json?: boolean; remote?: string | boolean }) => {
      const { file, targets } = pipelineAndTargets(first === undefined ? rest : [first, ...rest]);
      const { pipeline, stages } = await pipelineStatus(file, o, targets);
      if (o.json) {
        out(`${JSON.stringify({ pipeline, stages: stages.map((p) => ({ name: p.name, status: p.status, key: p.key, reasons: p.reasons.map(reasonJson), ...(p.action ? { action: actionJson(p.action) } : {}) })) }, null, 2)}\n`);
        return;
      }
      let stale = 0;
      let fetchable = 0;
      for (const p of stages) {
        if (p.status === 'stale') stale++;
        if (p.action?.kind === 'fetch') fetchable++;
        out(`${p.status === 'stale' ? 'stale     ' : 'up-to-date'}  ${p.name}${p.action ? `  (${formatAction(p.action)})` : ''}\n`);
        for (const r of p.reasons) out(`              - ${formatReason(r)}\n`);
      }
      const remote = stages.find((p) => p.action?.kind === 'fetch')?.action;
      out(`\n${stages.length - stale} up to date, ${stale} stale${remote?.kind === 'fetch' ? ` (${fetchable} available on remote '${remote.remote}', ${stale - fetchable} will run)` : ''}\n`);
    });
}

/** The status of every stage, in DAG order, and the pipeline's label. */
export async function pipelineStatus(file: string | undefined, o: { set?: string[]; params?: string; store?: string; remote?: string | boolean }, targetNames: string[] = []): Promise<{ pipeline: string; stages: StatusRow[] }> {
  const { fastPathArgs, tryFastPath } = await import('../../run/fast-path.js');
  const args = fastPathArgs(file, o);
  // Nothing changed since the last successful run (see src/run/fast-path.ts): all up to date.
  const hit = targetNames.length ? null : tryFastPath(args);
  if (hit) {
    hit.warnings.forEach(printWarningText);
    return {
      pipeline: relative(process.cwd(), args.pipelineFile) || args.pipelineFile,
      stages: hit.stages.map((st) => ({ name: st.name, status: 'up-to-date', key: st.key, reasons: [] })),
    };
  }
  const ws = await openWorkspace(file, workspaceOptions(o));
  const only = targetNames.length ? upstreamClosure(ws.dag, resolveTargets(ws.pipeline, targetNames)) : undefined;
  const plans = planPipeline(ws, { only });
  ws.statCache.save();
  const actions = await remoteActions(ws, plans, o.remote);
  return { pipeline: ws.label, stages: ws.dag.order.filter((n) => plans.has(n)).map((n) => ({ ...plans.get(n)!, ...(actions?.has(n) ? { action: actions.get(n) } : {}) })) };
}

/** With a remote configured (and stale stages), what `run` would do about each stale stage. */
async function remoteActions(ws: Workspace, plans: Map<string, StagePlan>, requested: string | boolean | undefined): Promise<Map<string, StaleAction> | undefined> {
  if ([...plans.values()].every((p) => p.status === 'up-to-date')) return undefined;
  const { chosenRemote, openChosen } = await import('../remote-options.js');
  const chosen = chosenRemote(ws.root, requested);
  if (!chosen) return undefined;
  const [{ RemoteResults }, { remoteAvailability }] = await Promise.all([import('../../cache/remote/remote-results.js'), import('../../plan/remote-availability.js')]);
  const results = new RemoteResults(await openChosen(chosen, ws.store.root), ws.store, { concurrency: chosen.concurrency, note: (_stage, message) => process.stderr.write(`fisherflow: ${message}\n`) });
  try {
    const actions = await remoteAvailability(ws, plans, chosen.spec.name, (key, stage) => results.recordFor(key, stage));
    // A remote that could not be asked tells nothing: show the local status alone.
    return results.broken ? undefined : actions;
  } finally {
    results.close();
  }
}
