// `fisherflow show STAGE[.OUTPUT]`: the path of a stage's output in the store.
import type { Command } from 'commander';
import { join } from 'node:path';
import { UserError } from '../../errors.js';
import { openWorkspace, type Workspace } from '../../plan/workspace.js';
import { addPipelineOptions, examples, out, workspaceOptions } from '../options.js';
import { hasOverrides, parseStageTarget, stageResult } from '../stage-target.js';

export function register(program: Command): void {
  addPipelineOptions(program.command('show').argument('<stage[.output]>', "a stage, optionally with an output key; `report`: the report stage's report.html").argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)'))
    .description("print the path of a stage's output in the store (of the run the lock file records; with --set/--params, of that run; `show report`: the latest report)")
    .addHelpText('after', examples(['fisherflow show reversed@st.data', 'fisherflow show train          # every output: name, tab, path', 'fisherflow show fim@op.fim pipelines/fisher-overlap.yaml', 'fisherflow show dev.data --set take=100', 'fisherflow show report pipelines/demo.yaml   # the report.html']))
    .action(async (target: string, file: string | undefined, o: { set?: string[]; params?: string; store?: string }) => {
      const ws = await openWorkspace(file, workspaceOptions(o));
      const { stage, output } = parseStageTarget(ws, reportTarget(ws, target));
      const spec = ws.pipeline.stages.get(stage)!;
      const record = stageResult(ws, stage, hasOverrides(o));
      const keys = output ? [output] : Object.keys(spec.outs);
      for (const k of keys) {
        if (!(k in spec.outs)) throw new UserError(`stage '${stage}' has no output '${k}'; its outputs: ${Object.keys(spec.outs).join(', ')}`);
        // A `cache: false` output is only in the workspace.
        const path = spec.uncached.includes(k) ? join(ws.pipeline.dir, spec.outs[k]) : ws.store.outputPath(record, k);
        out(`${keys.length > 1 ? `${k}\t` : ''}${path}\n`);
      }
    });
}

/** `show report`: the report.html of the stage named report, or of the pipeline's only report stage. */
function reportTarget(ws: Workspace, target: string): string {
  if (target !== 'report') return target;
  const named = ws.pipeline.stages.get('report');
  if (named) return named.type === 'report' ? 'report.report' : target;
  const reports = [...ws.pipeline.stages.values()].filter((s) => s.type === 'report').map((s) => s.name);
  if (reports.length > 1) throw new UserError(`this pipeline has ${reports.length} report stages (${reports.join(', ')}); name one: fisherflow show ${reports[0]}.report`);
  return reports.length === 1 ? `${reports[0]}.report` : target;
}
