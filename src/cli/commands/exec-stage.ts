// `fisherflow exec-stage JOB.json`: run one stage from its job file (what a cluster executor submits).
// SIGTERM (scancel, or Slurm's warning before a time limit), SIGINT and SIGHUP stop the stage, and
// the result file says which signal did; the exit status is non-zero unless the stage succeeded.
// bin/fisherflow.js calls `execStageCommand` through src/cli/exec-stage-main.ts without loading the
// rest of the CLI: every batch job pays this start-up.
import type { Command } from 'commander';
import { examples } from '../options.js';

export function register(program: Command): void {
  program
    .command('exec-stage')
    .argument('<job.json>', 'a job file written for a cluster executor')
    .description('run one stage from its job file alone (what a cluster executor such as Slurm runs)')
    .addHelpText('after', examples(['fisherflow exec-stage /shared/jobs/fim@op.json   # on a cluster node, as a Slurm job runs it']))
    .action(execStageCommand);
}

export async function execStageCommand(job: string): Promise<void> {
  const { execStageFromFile } = await import('../../exec/exec-stage.js');
  const ac = new AbortController();
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
  // A second signal while the stage winds down changes nothing: the record is written either way.
  const onSignal = (sig: NodeJS.Signals) => {
    if (!ac.signal.aborted) ac.abort(sig);
  };
  for (const s of signals) process.on(s, onSignal);
  try {
    const { exitCode } = await execStageFromFile(job, { signal: ac.signal });
    process.exitCode = exitCode;
  } finally {
    for (const s of signals) process.off(s, onSignal);
  }
}
