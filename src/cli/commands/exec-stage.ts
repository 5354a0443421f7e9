// `fisherflow exec-stage JOB.json`: run one stage from its job file (what a cluster executor submits).
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('exec-stage')
    .argument('<job.json>', 'a job file written for a cluster executor')
    .description('run one built-in stage from its recorded inputs alone (for executors on other machines)')
    .action(async (job: string) => {
      const { execStageFromFile } = await import('../../exec/exec-stage.js');
      await execStageFromFile(job);
    });
}
