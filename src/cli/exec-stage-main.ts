// The short way into `fisherflow exec-stage JOB.json` (bin/fisherflow.js takes it when those are the
// only arguments): without commander and the other commands' modules, a batch job starts about a
// third faster (bench/slurm.md).
import { execStageCommand } from './commands/exec-stage.js';
import { reportError } from './report-error.js';

export async function main(argv: string[]): Promise<void> {
  try {
    await execStageCommand(argv[3]!);
  } catch (err) {
    reportError(err);
  }
}
