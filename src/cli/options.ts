// Options and argument parsers shared by several commands, so each is spelled one way.
import { Option, type Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { didYouMean } from '../pipeline/errors.js';
import type { Pipeline } from '../pipeline/load.js';
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

/** `push`/`pull`: [PIPELINE] [STAGE...], the remote, the store, transfers in flight, --json. */
export function addTransferOptions(cmd: Command, what: string): Command {
  return addRemoteOption(cmd.argument('[targets...]', 'an optional pipeline file (default ./fisherflow.yaml), then stages (default: every stage in its lock file)'), false)
    .addOption(storeOption())
    .option('-j, --jobs <n>', "transfers in flight at once (default: the remote's concurrency)", wholeNumber('-j', 1))
    .option('--json', `print only one JSON object: what was ${what} and how fast`);
}

/** "; stages with that prefix: a, b" for an unknown stage name. */
export function suggestStages(name: string, names: string[]): string {
  const close = names.filter((n) => n.startsWith(name.split('@')[0]));
  return close.length ? `; stages with that prefix: ${close.slice(0, 8).join(', ')}` : '';
}

export const out = (s: string) => process.stdout.write(s);

/**
 * `[PIPELINE] [TARGET...]`: the first argument is the pipeline file when it names a YAML file (or
 * any existing file); the rest are stage names (a foreach/matrix family stands for its members).
 */
export function pipelineAndTargets(args: string[]): { file?: string; targets: string[] } {
  const [first, ...rest] = args;
  // A folder holding a pipeline is taken as a (mistaken) pipeline argument, so that loading it
  // says "is a folder; did you mean .../fisherflow.yaml?" rather than "unknown stage".
  const isFile = (a: string) => /\.ya?ml$/i.test(a) || (existsSync(a) && (statSync(a).isFile() || existsSync(join(a, 'fisherflow.yaml'))));
  return first !== undefined && isFile(first) ? { file: first, targets: rest } : { targets: args };
}

/** Target names → concrete stage names; an unknown one is an error with a suggestion. */
export function resolveTargets(pipeline: Pipeline, targets: string[]): string[] {
  const out: string[] = [];
  for (const t of targets) {
    const members = pipeline.families.get(t) ?? (pipeline.stages.has(t) ? [t] : undefined);
    if (!members) throw new UserError(`unknown stage '${t}'${didYouMean(t, [...pipeline.families.keys(), ...pipeline.stages.keys()])}${suggestStages(t, [...pipeline.stages.keys()])}`, undefined, `stages: ${[...pipeline.families.keys()].slice(0, 12).join(', ')}${pipeline.families.size > 12 ? ', ...' : ''}`);
    out.push(...members);
  }
  return [...new Set(out)];
}
