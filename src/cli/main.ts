// The `fisherflow` command line: one module per command (src/cli/commands/), registered here;
// errors are mapped to messages and exit codes in one place (see src/errors.ts).
import { Command, CommanderError, Help } from 'commander';
import { ExitCode } from '../errors.js';
import { reportError } from './report-error.js';
import { packageVersion } from '../run/snapshot.js';
import * as initCmd from './commands/init.js';
import * as runCmd from './commands/run.js';
import * as statusCmd from './commands/status.js';
import * as dagCmd from './commands/dag.js';
import * as showCmd from './commands/show.js';
import * as logsCmd from './commands/logs.js';
import * as gcCmd from './commands/gc.js';
import * as pushCmd from './commands/push.js';
import * as pullCmd from './commands/pull.js';
import * as metricsCmd from './commands/metrics.js';
import * as diffCmd from './commands/diff.js';
import * as expCmd from './commands/exp.js';
import * as plotsCmd from './commands/plots.js';
import * as importCmd from './commands/import.js';
import * as stagesCmd from './commands/stages.js';
import * as execStageCmd from './commands/exec-stage.js';
// Command modules import their implementations on use: every invocation pays only for what it runs.

/** In the order `fisherflow --help` lists them. */
const commands: Array<{ register(program: Command): void }> = [initCmd, runCmd, statusCmd, dagCmd, showCmd, logsCmd, gcCmd, pushCmd, pullCmd, metricsCmd, plotsCmd, diffCmd, expCmd, stagesCmd, importCmd, execStageCmd];

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('fisherflow')
    .description('Declarative pipelines for ML analysis: cached by content, rerun only what changed, GPUs used well.')
    .version(packageVersion())
    .showSuggestionAfterError(true)
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    // Repeatable options start as []: "(default: [])" in --help says nothing. Subcommands inherit this.
    .configureHelp({ optionDescription: (option) => new Help().optionDescription(option).replace(/ \(default: \[\]\)$/, '') })
    // Before the commands are added: subcommands copy it, so `exp runn` is a usage error (2) too.
    .exitOverride();
  for (const c of commands) c.register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // Output closed early (`fisherflow run | head`, a closed terminal) or unwritable: a run goes on
  // without it instead of dying with a stack trace and leaving its stages and lock behind.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
      return;
    }
    reportError(err);
  }
}
