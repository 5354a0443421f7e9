// The Slurm executor's settings: the project config's `slurm:` section with defaults filled in
// and durations parsed (errors name the config file, line and column).
//
// Public surface:
//   slurmSettings(config?, overrides?): SlurmSettings
//   DEFAULT_MAX_JOBS
import { join } from 'node:path';
import { UserError } from '../../errors.js';
import type { ProjectConfig } from '../../config/project-config.js';
import { parseDuration } from '../../schedule/time-limit.js';
import { PACKAGE_ROOT } from '../../stage/registry.js';
import { shellQuote, type SlurmJobOptions } from './batch-job.js';

export const DEFAULT_MAX_JOBS = 100;

export interface SlurmSettings {
  /** partition, account, qos, constraint, options for every job. */
  job: SlurmJobOptions;
  /** Most jobs of the run in the queue at once. */
  maxJobs: number;
  pollMinMs: number;
  pollMaxMs: number;
  /** How long a finished job's result file may take to appear (filesystem lag). */
  resultWaitMs: number;
  stopBeforeLimitS: number;
  /** Resubmissions after NODE_FAIL, BOOT_FAIL or PREEMPTED. */
  resubmit: number;
  /** Shell words that start fisherflow on a compute node. */
  command: string;
}

/** This node's Node.js and this installation's CLI, by absolute path. */
export function defaultFisherflowCommand(): string {
  return `${shellQuote(process.execPath)} ${shellQuote(join(PACKAGE_ROOT, 'bin', 'fisherflow.js'))}`;
}

export function slurmSettings(config?: ProjectConfig, overrides: { maxJobs?: number } = {}): SlurmSettings {
  const s = (config?.get(['slurm']) ?? {}) as Record<string, unknown>;
  const duration = (key: string, fallback: number): number => {
    if (s[key] === undefined) return fallback;
    try {
      return parseDuration(String(s[key]), `slurm.${key}`);
    } catch (e) {
      throw new UserError((e as Error).message, config?.locate(['slurm', key]));
    }
  };
  const job: SlurmJobOptions = {};
  for (const k of ['partition', 'account', 'qos', 'constraint'] as const) if (typeof s[k] === 'string') job[k] = s[k] as string;
  if (Array.isArray(s.options)) job.options = s.options as string[];
  const pollMinS = duration('poll_min', 1);
  const pollMaxS = duration('poll_max', 10);
  if (pollMaxS < pollMinS) throw new UserError(`slurm.poll_max (${s.poll_max}) is shorter than slurm.poll_min (${s.poll_min ?? '1s'})`, config?.locate(['slurm', 'poll_max']));
  return {
    job,
    maxJobs: overrides.maxJobs ?? (s.max_jobs as number | undefined) ?? DEFAULT_MAX_JOBS,
    pollMinMs: pollMinS * 1000,
    pollMaxMs: pollMaxS * 1000,
    resultWaitMs: duration('result_wait', 60) * 1000,
    stopBeforeLimitS: duration('stop_before_limit', 60),
    resubmit: (s.resubmit as number | undefined) ?? 2,
    command: typeof s.command === 'string' && s.command.trim() ? s.command.trim() : defaultFisherflowCommand(),
  };
}
