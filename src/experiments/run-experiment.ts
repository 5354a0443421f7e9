// `fisherflow exp run`: run the pipeline with overridden params into an experiment folder,
// leaving the pipeline YAML and its lock file untouched. The store is shared, so an experiment
// whose params match an earlier run (or the workspace's) reruns nothing.
import { existsSync, rmSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { copyPath, makeWritable } from '../cache/store.js';
import { hashPath } from '../cache/hash.js';
import { readLock } from '../cache/lockfile.js';
import { openWorkspace, type Workspace } from '../plan/workspace.js';
import { runPipeline, type RunOptions, type RunResult } from '../run/run.js';
import { metricsFromLock } from '../metrics/collect.js';
import { canonicalJson } from '../cache/hash.js';
import { currentBranch, headCommit, openRepo } from './git.js';
import { claimExperiment, finishExperiment, listExperiments, type ExperimentRecord } from './records.js';

export interface ExperimentRunOptions extends Omit<RunOptions, 'force' | 'dryRun'> {
  set?: string[];
  paramsFile?: string;
  store?: string;
  name?: string;
  /** Replace an existing experiment of that name. */
  replace?: boolean;
  /** Remarks for the user (restored files, same params as an earlier experiment). */
  note?: (msg: string) => void;
}

export interface ExperimentRunResult {
  name: string;
  result: RunResult;
  /** Undefined when the run failed (nothing is recorded then). */
  record?: ExperimentRecord;
}

export async function runExperiment(pipelineFile: string | undefined, opts: ExperimentRunOptions): Promise<ExperimentRunResult> {
  const note = opts.note ?? (() => {});
  const ws = await openWorkspace(pipelineFile, { set: opts.set, paramsFile: opts.paramsFile, store: opts.store });
  const repo = openRepo(ws.pipeline.file, "'fisherflow exp run'");
  const base = headCommit(repo);
  const pipelineRel = relative(ws.root, ws.pipeline.file).split('\\').join('/');
  const claim = claimExperiment(ws.root, opts.name, Boolean(opts.replace));
  const { name, dir } = claim;
  const lockFile = join(dir, basename(ws.lockPath));
  // The experiment's own lock path, and no previous lock: its entries must all come from this run.
  const expWs: Workspace = { ...ws, lockPath: lockFile, previousLock: undefined };
  let result: RunResult;
  try {
    result = await runPipeline(expWs, { ...opts });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  } finally {
    restoreWorkspaceOutputs(ws, note);
  }
  if (!result.ok) {
    rmSync(dir, { recursive: true, force: true });
    return { name, result };
  }
  const lock = readLock(lockFile);
  const metrics = metricsFromLock(lock, ws.store);
  for (const m of metrics.missing) note(`metrics ${m.file} (stage ${m.stage}): ${m.reason}`);
  const same = listExperiments(ws.root, pipelineRel).find((r) => r.name !== name && canonicalJson(r.params) === canonicalJson(ws.pipeline.params));
  if (same) note(`same params as experiment '${same.name}'`);
  const record: ExperimentRecord = {
    version: 1,
    name,
    pipeline: pipelineRel,
    lock: basename(lockFile),
    baseCommit: base?.sha ?? null,
    baseBranch: currentBranch(repo) ?? null,
    createdAt: new Date().toISOString(),
    set: opts.set ?? [],
    ...(opts.paramsFile ? { paramsFile: opts.paramsFile } : {}),
    params: ws.pipeline.params,
    metrics: metrics.files,
    stages: { ran: result.stages.filter((s) => s.status === 'ran').map((s) => s.name), cached: result.stages.filter((s) => s.status === 'cached').map((s) => s.name) },
  };
  finishExperiment(claim, record);
  return { name, result, record };
}

/**
 * Command stages write their outputs into the workspace, so an experiment overwrote them. Put
 * back what the workspace's own lock file says ran, from the store: after `exp run` the
 * workspace's files match its YAML and lock file again.
 */
export function restoreWorkspaceOutputs(ws: Workspace, note: (msg: string) => void): void {
  for (const [stage, entry] of Object.entries(ws.previousLock?.stages ?? {})) {
    if (entry.type !== 'command') continue;
    const rec = ws.store.readRecord(entry.key);
    if (!rec || ws.store.verify(rec)) continue;
    for (const [out, o] of Object.entries(rec.outputs)) {
      if (o.stored === false) continue; // `cache: false`: nothing in the store to put back
      const dest = join(ws.pipeline.dir, o.path);
      let current: string | undefined;
      try {
        current = existsSync(dest) ? hashPath(dest, ws.statCache).hash : undefined;
      } catch {
        current = undefined;
      }
      if (current === o.hash) continue;
      try {
        makeWritable(dest);
        copyPath(ws.store.outputPath(rec, out), dest);
        ws.statCache.forget(dest);
      } catch (e) {
        note(`could not restore ${o.path} (stage ${stage}) in the workspace: ${(e as Error).message}`);
      }
    }
  }
  ws.statCache.save();
}
