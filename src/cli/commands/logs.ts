// `fisherflow logs STAGE`: the log of a stage's last run (or of the failed attempt of its key).
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors.js';
import { openWorkspace } from '../../plan/workspace.js';
import { planPipeline } from '../../plan/plan.js';
import { addPipelineOptions, out, suggestStages, workspaceOptions } from '../options.js';

export function register(program: Command): void {
  addPipelineOptions(program.command('logs').argument('<stage>', 'stage name').argument('[pipeline]', 'pipeline file'))
    .description("print a stage's log (its last run, or the failed attempt of its current key)")
    .action(async (stage: string, file: string | undefined, o: { set: string[]; params?: string; store?: string }) => {
      const ws = await openWorkspace(file, workspaceOptions(o));
      if (!ws.pipeline.stages.has(stage)) throw new UserError(`unknown stage '${stage}'${suggestStages(stage, [...ws.pipeline.stages.keys()])}`);
      const plan = planPipeline(ws).get(stage)!;
      const keys = [plan.key, ws.previousLock?.stages[stage]?.key].filter((k): k is string => Boolean(k));
      for (const k of keys) {
        const p = join(ws.store.root, 'logs', `${k}.log`);
        if (existsSync(p)) {
          out(readFileSync(p, 'utf8'));
          return;
        }
      }
      throw new UserError(`no log for stage '${stage}' yet`);
    });
}
