// `fisherflow logs STAGE`: the log of a stage's last run (or of the failed attempt of its key).
import type { Command } from 'commander';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors.js';
import { openWorkspace } from '../../plan/workspace.js';
import { addPipelineOptions, examples, out, workspaceOptions } from '../options.js';
import { hasOverrides, requireStage, stageLogKeys } from '../stage-target.js';

export function register(program: Command): void {
  addPipelineOptions(program.command('logs').argument('<stage>', 'stage name').argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)'))
    .description("print a stage's log (of the run the lock file records, or the failed attempt of its current key)")
    .addHelpText('after', examples(['fisherflow logs train@st', 'fisherflow logs fim@op pipelines/fisher-overlap.yaml', 'fisherflow logs dev --set take=100   # the log of the run with take=100']))
    .action(async (name: string, file: string | undefined, o: { set?: string[]; params?: string; store?: string }) => {
      const ws = await openWorkspace(file, workspaceOptions(o));
      const stage = requireStage(ws, name);
      // The newest of them: a failed attempt after the recorded run, or the recorded run after an older attempt.
      const logs = stageLogKeys(ws, stage, hasOverrides(o)).map((k) => join(ws.store.root, 'logs', `${k}.log`)).filter((p) => existsSync(p));
      const newest = logs.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
      if (newest) {
        const text = readFileSync(newest, 'utf8');
        // A command that printed nothing (`wc -l x > count.txt`) leaves an empty log: say so, on stderr.
        if (text) out(text);
        else process.stderr.write(`fisherflow: stage '${stage}' printed nothing (its log is empty)\n`);
        return;
      }
      throw new UserError(`no log for stage '${stage}' yet`);
    });
}
