// Which executor runs which stage: a stage's own `executor:`, else the run's (`--executor`, else
// the project config's `executor:`), else this machine. The Slurm executor is created (and its
// module loaded) only when some stage uses it.
//
// Public surface:
//   executorSettings(root, { executor?, jobs? }): ExecutorSettings     from the CLI and the project config
//   stageExecutors(ws, local, settings, onNote): StageExecutors          one per run
import type { Executor } from '../exec/executor.js';
import type { SlurmSettings } from '../exec/slurm/settings.js';
import { loadProjectConfig, type ProjectConfig } from '../config/project-config.js';
import type { StageSpec } from '../pipeline/load.js';
import type { Workspace } from '../plan/workspace.js';
import { UserError } from '../errors.js';

export type ExecutorName = 'local' | 'slurm';

export interface ExecutorSettings {
  /** The run's executor for stages that do not name one. */
  executor: ExecutorName;
  /** CPU slots of the local executor (-j, unless -j sized the Slurm queue). */
  jobs?: number;
  config: ProjectConfig;
  /** Most jobs of this run in the Slurm queue at once (-j when the run's executor is slurm). */
  slurmMaxJobs?: number;
}

export interface StageExecutors {
  of(spec: StageSpec): Executor;
  /** Stages that may wait on a batch queue at once, beyond the local pool's own slots. */
  remoteSlots: number;
  /** The Slurm executor, when one was made (its call counts are reported by benchmarks). */
  slurm?: Executor & { counts: { sbatch: number; scancel: number }; watcher: { calls: number } };
}

/** `-j` sizes the Slurm queue when the run's executor is slurm, the local CPU slots otherwise. */
export function executorSettings(root: string, cli: { executor?: string; jobs?: number }): ExecutorSettings {
  const config = loadProjectConfig(root);
  const fromConfig = config.get(['executor']) as ExecutorName | undefined;
  if (cli.executor !== undefined && cli.executor !== 'local' && cli.executor !== 'slurm') {
    throw new UserError(`--executor expects local or slurm, got '${cli.executor}'`);
  }
  const executor = (cli.executor as ExecutorName | undefined) ?? fromConfig ?? 'local';
  return executor === 'slurm' ? { executor, config, slurmMaxJobs: cli.jobs } : { executor, config, jobs: cli.jobs };
}

export async function stageExecutors(ws: Workspace, local: Executor, settings: ExecutorSettings | undefined, onNote: (m: string) => void): Promise<StageExecutors> {
  const name = (spec: StageSpec): ExecutorName => spec.executor ?? settings?.executor ?? 'local';
  const usesSlurm = [...ws.pipeline.stages.values()].some((s) => name(s) === 'slurm');
  if (!settings || !usesSlurm) return { of: () => local, remoteSlots: 0 };
  const [{ SlurmExecutor }, { slurmSettings }] = await Promise.all([import('../exec/slurm/slurm-executor.js'), import('../exec/slurm/settings.js')]);
  const s: SlurmSettings = slurmSettings(settings.config, { maxJobs: settings.slurmMaxJobs });
  const slurm = new SlurmExecutor({
    settings: s,
    storeRoot: ws.store.root,
    pipelineFile: ws.pipeline.file,
    stageOptions: (stage) => ws.pipeline.stages.get(stage)?.slurm,
    onNote,
  });
  return { of: (spec) => (name(spec) === 'slurm' ? slurm : local), remoteSlots: s.maxJobs, slurm };
}
