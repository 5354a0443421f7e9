// `fisherflow diff [REV_A [REV_B]]`: params, stage keys and metrics of two revisions side by side.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { UserError } from '../../errors.js';
import { defaultPipelineFile } from '../../plan/workspace.js';
import { metricFilter } from '../../metrics/filter.js';
import { collect, examples, hiddenPipelineOption, metricOption, out, precisionOption, splitPipelineArg, storeOption } from '../options.js';

export function register(program: Command): void {
  program
    .command('diff')
    .argument('[rev_a]', 'the old revision or experiment name (default: HEAD)')
    .argument('[rev_b]', 'the new revision or experiment name (default: the working tree)')
    .argument('[pipeline]', 'pipeline file, ending in .yaml (default: ./fisherflow.yaml)')
    .description('compare params, stage keys and metrics between two git revisions (default: HEAD vs the working tree)')
    .addOption(hiddenPipelineOption())
    .option('--json', 'machine-readable output')
    .option('--md', 'markdown tables (for a pull request)')
    .option('--all', 'list unchanged params, stages and metrics too')
    .option('--set <key=value>', 'the working tree with this param overridden, as `run --set` would run it (repeatable)', collect, [])
    .option('--params <file>', 'the working tree with these param overrides, as `run --params` would run it')
    .addOption(metricOption())
    .addOption(storeOption())
    .addOption(precisionOption())
    .addHelpText('after', examples(['fisherflow diff                      # HEAD vs the working tree', 'fisherflow diff HEAD~1               # HEAD~1 vs the working tree', 'fisherflow diff main my-branch --md  # a table for a pull request', 'fisherflow diff HEAD small           # a commit vs the experiment `small`', 'fisherflow diff HEAD~1 HEAD pipelines/demo.yaml']))
    .action((a: string | undefined, b: string | undefined, p: string | undefined, o: DiffOptions) => {
      const { pipeline, rest } = splitPipelineArg([a, b, p], o.pipeline);
      if (rest.length > 2) throw new UserError(`diff takes at most two revisions, got ${rest.join(', ')}; a pipeline file ends in .yaml or .yml`);
      return diffCommand(rest[0], rest[1], { ...o, pipeline });
    });
}

interface DiffOptions { pipeline?: string; json?: boolean; md?: boolean; all?: boolean; metric: string[]; store?: string; precision: number; set?: string[]; params?: string }

export async function diffCommand(revA: string | undefined, revB: string | undefined, o: DiffOptions): Promise<void> {
  const [{ pipelineContext, readRevision, readWorkingTree }, { diffRevisions, diffJson, renderDiffMarkdown, renderDiffText }] = await Promise.all([
    import('../../experiments/revision.js'),
    import('../../experiments/diff.js'),
  ]);
  if (o.json && o.md) throw new UserError('diff: choose one of --json and --md');
  if (revB !== undefined && (o.set?.length || o.params)) throw new UserError('diff: --set and --params apply to the working tree; leave out the second revision');
  const file = o.pipeline ? resolve(o.pipeline) : defaultPipelineFile();
  const ctx = pipelineContext(file, "'fisherflow diff'", o.store);
  const a = readRevision(ctx, revA ?? 'HEAD');
  const b = revB === undefined ? await readWorkingTree(ctx, { set: o.set, paramsFile: o.params }) : readRevision(ctx, revB);
  const d = diffRevisions(ctx.pipelinePath, a, b, { all: o.all });
  const pick = metricFilter(o.metric);
  d.metrics = d.metrics.filter((m) => pick(m.file, m.key));
  if (o.json) out(`${JSON.stringify(diffJson(d), null, 2)}\n`);
  else if (o.md) out(renderDiffMarkdown(d, o.precision));
  else out(renderDiffText(d, o.precision));
}
