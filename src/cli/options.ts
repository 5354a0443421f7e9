// Options and argument parsers shared by several commands, so each is spelled one way.
import { Option, type Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { WorkspaceOptions } from '../plan/workspace.js';

export const collect = (v: string, prev: string[] = []) => [...prev, v];

/** A parser for a whole-number option value of at least `min`. */
export function wholeNumber(flag: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UserError(`${flag} expects a whole number of at least ${min}, got '${v}'`);
    return n;
  };
}

export const storeOption = () => new Option('--store <dir>', 'the content-addressed store (default: artifacts/ at the project root, or $FISHERFLOW_STORE)');
export const metricOption = () => new Option('--metric <pattern>', "only metrics whose name (FILE:KEY or KEY) matches; '*' is a wildcard; repeatable").argParser(collect).default([]);
export const precisionOption = () => new Option('--precision <digits>', 'significant digits for metric values in tables').argParser(wholeNumber('--precision', 1)).default(6);

/** `--set`, `--params` and `--store`: what decides a pipeline's params and where its results live. */
export function addPipelineOptions(cmd: Command): Command {
  return cmd
    .option('--set <key=value>', 'override a param (repeatable, dotted keys)', collect, [])
    .option('--params <file>', 'a YAML file of param overrides')
    .addOption(storeOption());
}

export function workspaceOptions(o: { set?: string[]; params?: string; store?: string }): WorkspaceOptions {
  return { set: o.set, paramsFile: o.params, store: o.store };
}

/** The options `run` and `exp run` share: parallelism, devices, failure policy. */
export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('--json', 'print only one JSON object with the outcome of each stage')
    .option('-j, --jobs <n>', 'CPU slots (default: number of cores); with --executor slurm, the most jobs in the Slurm queue (default 100)', wholeNumber('-j', 1))
    .addOption(new Option('--executor <name>', 'where stages run unless they say otherwise (default: the project config, else local)').choices(['local', 'slurm']))
    .option('--gpus <list>', 'GPU devices, e.g. 0,1 or 0:80GB,1:80GB (default: $FISHERFLOW_GPUS, else nvidia-smi)')
    .option('--jobs-per-gpu <n>', 'stages without gpu_memory that may share one device', wholeNumber('--jobs-per-gpu', 1))
    .option('-k, --keep-going', 'after a failure, keep running stages that do not depend on it');
}

/** `--remote NAME`, and with `skip` also `--no-remote` (see src/cli/remote-options.ts). */
export function addRemoteOption(cmd: Command, skip: boolean): Command {
  cmd.option('--remote <name>', 'the remote to use (default: remote.default in fisherflow.config.yaml, or $FISHERFLOW_REMOTE)');
  if (skip) cmd.option('--no-remote', 'do not consult any remote');
  return cmd;
}

/** `push`/`pull`: [STAGE...] [PIPELINE], the remote, the store, transfers in flight, --json. */
export function addTransferOptions(cmd: Command, what: string): Command {
  return addRemoteOption(cmd.argument('[targets...]', 'stages (default: every stage in its lock file), then an optional pipeline file (default ./fisherflow.yaml)'), false)
    .addOption(storeOption())
    .option('-j, --jobs <n>', "transfers in flight at once (default: the remote's concurrency)", wholeNumber('-j', 1))
    .option('--json', `print only one JSON object: what was ${what} and how fast`);
}

/** A pipeline file given as a positional argument: it ends in .yaml or .yml. */
export const isPipelineArg = (a: string): boolean => /\.ya?ml$/.test(a);

/**
 * Commands whose other positional arguments come in a variable number (`diff [REV_A [REV_B]]`,
 * `exp remove NAME...`) take the pipeline as every command does, as a last positional argument:
 * the one that ends in .yaml/.yml.
 */
export function splitPipelineArg(args: Array<string | undefined>, flag?: string): { pipeline?: string; rest: string[] } {
  const given = args.filter((a): a is string => a !== undefined);
  const last = given.at(-1);
  if (last !== undefined && isPipelineArg(last)) {
    if (flag) throw new UserError(`the pipeline is given twice: ${last} and -p ${flag}`);
    return { pipeline: last, rest: given.slice(0, -1) };
  }
  return { pipeline: flag, rest: given };
}

/** `-p FILE`, the old spelling of the pipeline argument for diff and exp remove: still read, no longer shown. */
export const hiddenPipelineOption = () => new Option('-p, --pipeline <file>', 'pipeline file').hideHelp();

/** The text `--help` shows after a command's options: how it is typed. */
export function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

export const out = (s: string) => process.stdout.write(s);

/**
 * `[PIPELINE] [TARGET...]`: the first (or the last) argument is the pipeline file when it names a
 * YAML file (the first also when it is any existing file); the rest are stage names (a foreach/matrix family stands for its members).
 */
export function pipelineAndTargets(args: string[]): { file?: string; targets: string[] } {
  // A folder holding a pipeline is taken as a (mistaken) pipeline argument, so that loading it
  // says "is a folder; did you mean .../fisherflow.yaml?" rather than "unknown stage".
  const isFile = (a: string) => /\.ya?ml$/i.test(a) || (existsSync(a) && (statSync(a).isFile() || existsSync(join(a, 'fisherflow.yaml'))));
  const [first, ...rest] = args;
  if (first !== undefined && isFile(first)) return { file: first, targets: rest };
  // The pipeline last, as every other command takes it: `run train pipelines/demo.yaml`.
  const last = args.at(-1);
  if (args.length > 1 && last !== undefined && isPipelineArg(last)) return { file: last, targets: args.slice(0, -1) };
  return { targets: args };
}
