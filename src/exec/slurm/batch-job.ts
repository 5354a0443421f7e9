// What fisherflow hands to `sbatch` for one stage: the flags (name, comment, resources, sbatch
// settings) and the batch script, which checks that the node sees the job file (the store must be
// on a filesystem the compute nodes share) and then execs `fisherflow exec-stage JOB.json`.
// Pure functions: the executor (slurm-executor.ts) writes the files and runs sbatch.
//
// Public surface:
//   sbatchArgs(spec: BatchJobSpec): string[]         flags after `sbatch`
//   batchScript(spec: BatchJobSpec): string          the script, given to sbatch on stdin
//   jobName(pipelineFile, stage): string             "<pipeline>:<stage>", e.g. "demo:fim@tic"
//   NO_STORE_EXIT                                    the script's exit status when the job file is not visible
import { basename, dirname, extname } from 'node:path';
import { parseMemory } from '../../schedule/devices.js';
import { formatSlurmTime, parseTimeLimit } from '../../schedule/time-limit.js';
import type { ResourceRequest } from '../../stage/api.js';

/** sbatch settings of a stage (`slurm:` in the pipeline) or of the project (config `slurm:`). */
export interface SlurmJobOptions {
  partition?: string;
  account?: string;
  qos?: string;
  constraint?: string;
  /** Further sbatch flags, as they are. */
  options?: string[];
}

export interface BatchJobSpec {
  name: string;
  comment: string;
  /** Working folder of the job (the pipeline's folder). */
  cwd: string;
  /** Slurm's own stdout/stderr of the job (exec-stage's messages; the stage's output goes to its log). */
  outputFile: string;
  jobFile: string;
  resources: ResourceRequest;
  /** Project settings first, then the stage's: the stage's partition/account/qos/constraint win, options add up. */
  options: SlurmJobOptions[];
  /** SIGTERM this long before the time limit (sbatch --signal=B:TERM@N). */
  stopBeforeLimitS: number;
  /** Shell words that start fisherflow on the node, e.g. `'/usr/bin/node' '/opt/ff/bin/fisherflow.js'`. */
  command: string;
  /** The store's root, named in the error when a node cannot see the job file. */
  storeRoot: string;
}

/** The batch script's exit status when the node cannot read the job file. */
export const NO_STORE_EXIT = 86;

export function jobName(pipelineFile: string, stage: string): string {
  let label = basename(pipelineFile, extname(pipelineFile));
  // `fisherflow.yaml` says nothing about the project: use its folder's name.
  if (label === 'fisherflow') label = basename(dirname(pipelineFile)) || label;
  return `${label}:${stage}`;
}

export function gpuCount(r: ResourceRequest): number {
  // `gpu: optional` asks Slurm for nothing: the stage runs on the CPU rather than wait for a GPU.
  return typeof r.gpu === 'number' ? r.gpu : 0;
}

export function sbatchArgs(spec: BatchJobSpec): string[] {
  const r = spec.resources;
  const args = [
    '--parsable',
    `--job-name=${spec.name}`,
    `--comment=${spec.comment}`,
    `--chdir=${spec.cwd}`,
    `--output=${spec.outputFile.replace(/%/g, '%%')}`,
    '--open-mode=append',
    '--nodes=1',
    '--ntasks=1',
    `--cpus-per-task=${r.cpu ?? 1}`,
  ];
  const gpus = gpuCount(r);
  if (gpus > 0) args.push(`--gres=gpu:${gpus}`);
  if (r.memory !== undefined) args.push(`--mem=${Math.ceil(parseMemory(r.memory, 'resources.memory'))}M`);
  if (r.time !== undefined) args.push(`--time=${formatSlurmTime(parseTimeLimit(r.time, 'resources.time'))}`);
  args.push(`--signal=B:TERM@${Math.max(1, Math.round(spec.stopBeforeLimitS))}`);
  const merged: Required<Omit<SlurmJobOptions, 'options'>> & { options: string[] } = { partition: '', account: '', qos: '', constraint: '', options: [] };
  for (const o of spec.options) {
    for (const k of ['partition', 'account', 'qos', 'constraint'] as const) if (o[k]) merged[k] = o[k]!;
    merged.options.push(...(o.options ?? []));
  }
  for (const k of ['partition', 'account', 'qos', 'constraint'] as const) if (merged[k]) args.push(`--${k}=${merged[k]}`);
  // Last: sbatch takes the last of repeated flags, so a user's own flag wins over fisherflow's.
  args.push(...merged.options);
  return args;
}

/** Single-quoted for bash. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function batchScript(spec: BatchJobSpec): string {
  return [
    '#!/bin/bash',
    `# fisherflow: ${spec.comment.replace(/\n/g, ' ')}`,
    `JOB=${shellQuote(spec.jobFile)}`,
    `STORE=${shellQuote(spec.storeRoot)}`,
    'if [ ! -r "$JOB" ]; then',
    '  echo "fisherflow: node $(hostname) cannot read $JOB: the store ($STORE) must be on a filesystem shared by the machine that runs fisherflow and the compute nodes" >&2',
    `  exit ${NO_STORE_EXIT}`,
    'fi',
    `exec ${spec.command} exec-stage "$JOB"`,
    '',
  ].join('\n');
}
