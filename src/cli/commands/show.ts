// `fisherflow show STAGE[.OUTPUT]`: the path of a stage's output in the store.
import type { Command } from 'commander';
import { join } from 'node:path';
import { UserError } from '../../errors.js';
import { openWorkspace } from '../../plan/workspace.js';
import { planPipeline } from '../../plan/plan.js';
import { formatReasons } from '../../plan/reasons.js';
import { addPipelineOptions, out, suggestStages, workspaceOptions } from '../options.js';

export function register(program: Command): void {
  addPipelineOptions(program.command('show').argument('<stage[.output]>', 'a stage, optionally with an output key').argument('[pipeline]', 'pipeline file'))
    .description("print the path of a stage's output in the store")
    .action(async (target: string, file: string | undefined, o: { set: string[]; params?: string; store?: string }) => {
      const ws = await openWorkspace(file, workspaceOptions(o));
      let stage = target;
      let output: string | undefined;
      if (!ws.pipeline.stages.has(target)) {
        const dot = target.lastIndexOf('.');
        if (dot > 0) {
          stage = target.slice(0, dot);
          output = target.slice(dot + 1);
        }
      }
      const spec = ws.pipeline.stages.get(stage);
      if (!spec) throw new UserError(`unknown stage '${stage}'${suggestStages(stage, [...ws.pipeline.stages.keys()])}`);
      const plan = planPipeline(ws).get(stage)!;
      if (plan.status !== 'up-to-date' || !plan.record) throw new UserError(`stage '${stage}' has no current result (${formatReasons(plan.reasons).join('; ')}); run the pipeline first`);
      const keys = output ? [output] : Object.keys(spec.outs);
      for (const k of keys) {
        if (!(k in spec.outs)) throw new UserError(`stage '${stage}' has no output '${k}'; its outputs: ${Object.keys(spec.outs).join(', ')}`);
        // A `cache: false` output is only in the workspace.
        const path = spec.uncached.includes(k) ? join(ws.pipeline.dir, spec.outs[k]) : ws.store.outputPath(plan.record, k);
        out(`${keys.length > 1 ? `${k}\t` : ''}${path}\n`);
      }
    });
}
