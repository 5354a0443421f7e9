// What a pipeline looked like at one git revision (or in the working tree): its params, the
// stage keys its lock file records, and the metrics those runs produced. Revisions are read
// through git (`git cat-file`), never checked out; metric files come from the shared store.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { ContentStore } from '../cache/store.js';
import { lockPathFor, parseLockText, readLock, type LockFile, type LockStage } from '../cache/lockfile.js';
import { hashFileContent } from '../cache/hash.js';
import { UserError } from '../errors.js';
import { parseSourceDocument } from "../pipeline/source.js";
import { deepMerge, type ParamOverrides, type Params } from '../pipeline/params.js';
import { readCommittedParamsFiles } from '../pipeline/params-files.js';
import { openWorkspace, projectRoot, type Workspace } from '../plan/workspace.js';
import { planPipeline } from '../plan/plan.js';
import type { StaleReason } from '../plan/reasons.js';
import { metricsFromLock, type MetricsFallback, type MetricsSnapshot } from '../metrics/collect.js';
import { listExperiments, type ExperimentRecord } from './records.js';
import { firstCommitWith, openRepo, readBlobs, repoPath, resolveRevision, type Commit, type Repo } from './git.js';

export interface PipelineContext {
  /** Absolute path of the pipeline file in the working tree. */
  pipelineFile: string;
  repo: Repo;
  /** Repository-relative paths, '/'-separated. */
  pipelinePath: string;
  lockPath: string;
  /** The pipeline's folder, repository-relative ('' at the root). */
  dirPath: string;
  store: ContentStore;
  storeOption?: string;
}

export function pipelineContext(pipelineFile: string, what: string, storeOption?: string): PipelineContext {
  const file = resolve(pipelineFile);
  const repo = openRepo(file, what);
  const pipelinePath = repoPath(repo, file);
  const lockPath = repoPath(repo, lockPathFor(file));
  const storeRoot = resolve(storeOption ?? process.env.FISHERFLOW_STORE ?? join(projectRoot(dirname(file)), 'artifacts'));
  return { pipelineFile: file, repo, pipelinePath, lockPath, dirPath: posix.dirname(pipelinePath) === '.' ? '' : posix.dirname(pipelinePath), store: new ContentStore(storeRoot), storeOption };
}

export interface StageKeyState {
  key: string | null;
  /** Working tree only: why the stage would rerun now (empty when up to date). */
  reasons?: StaleReason[];
}

export interface RevisionState {
  /** As the user named it: 'HEAD', 'main~2', 'workspace'. */
  label: string;
  commit?: Commit;
  params: Params;
  lock?: LockFile;
  stages: Record<string, StageKeyState>;
  metrics: MetricsSnapshot;
  notes: string[];
}

/**
 * A pipeline's params as its YAML and its params files give them: `read` gives a params file's
 * text (relative to the pipeline's folder; undefined when there is none), `label` its name in
 * messages.
 */
export function pipelineParams(text: string, label: string, read: (name: string) => string | undefined, fileLabel: (name: string) => string): Params {
  const doc = parseSourceDocument(text, label).value as { params?: unknown; params_files?: unknown } | null;
  const p = doc && typeof doc === 'object' ? doc.params : undefined;
  const declared = p && typeof p === 'object' && !Array.isArray(p) ? (p as Params) : {};
  return deepMerge(declared, readCommittedParamsFiles(doc && typeof doc === 'object' ? doc.params_files : undefined, read, fileLabel).values);
}

/** Reads a file beside the pipeline at a commit (memoised: params.yaml is asked for twice). */
export function committedFileReader(ctx: PipelineContext, sha: string): (name: string) => string | undefined {
  const seen = new Map<string, string | undefined>();
  return (name) => {
    if (!seen.has(name)) {
      const spec = `${sha}:${joinRepo(ctx.dirPath, name)}`;
      seen.set(name, readBlobs(ctx.repo, [spec]).get(spec));
    }
    return seen.get(name);
  };
}

function joinRepo(dir: string, p: string): string {
  return dir ? `${dir}/${p}` : p;
}

/** The state of an experiment: the params it ran with, its lock file, its recorded metrics. */
function readExperiment(exp: ExperimentRecord & { dir: string }): RevisionState {
  const lock = readLock(join(exp.dir, exp.lock));
  const stages: Record<string, StageKeyState> = {};
  for (const [n, e] of Object.entries(lock?.stages ?? {})) stages[n] = { key: e.key };
  return { label: exp.name, params: exp.params, lock, stages, metrics: { files: exp.metrics, missing: [] }, notes: [] };
}

/** The state committed at `rev`, or, when no revision has that name, the experiment named so. */
export function readRevision(ctx: PipelineContext, rev: string): RevisionState {
  let commit: Commit;
  try {
    commit = resolveRevision(ctx.repo, rev);
  } catch (e) {
    const root = projectRoot(dirname(ctx.pipelineFile));
    const pipeline = relative(root, ctx.pipelineFile).split(sep).join('/');
    const exp = listExperiments(root, pipeline).find((x) => x.name === rev);
    if (exp) return readExperiment(exp);
    throw e;
  }
  const pSpec = `${commit.sha}:${ctx.pipelinePath}`;
  const lSpec = `${commit.sha}:${ctx.lockPath}`;
  const blobs = readBlobs(ctx.repo, [pSpec, lSpec]);
  const text = blobs.get(pSpec);
  if (text === undefined) {
    const first = firstCommitWith(ctx.repo, ctx.pipelinePath);
    throw new UserError(
      `${ctx.pipelinePath} did not exist at revision '${rev}' (${commit.short} ${commit.subject})`,
      undefined,
      first ? `it was first committed in ${first.short} (${first.subject})` : 'it has never been committed; commit the pipeline and its lock file',
    );
  }
  const params = pipelineParams(text, `${rev}:${ctx.pipelinePath}`, committedFileReader(ctx, commit.sha), (n) => `${rev}:${joinRepo(ctx.dirPath, n)}`);
  const notes: string[] = [];
  const lockText = blobs.get(lSpec);
  const lock = lockText === undefined ? undefined : parseLockText(lockText);
  if (lockText === undefined) notes.push(`${rev}: no lock file committed (${ctx.lockPath}); no stage keys or metrics at that revision`);
  else if (!lock) notes.push(`${rev}: the committed lock file ${ctx.lockPath} is not readable`);
  const stages: Record<string, StageKeyState> = {};
  for (const [n, e] of Object.entries(lock?.stages ?? {})) stages[n] = { key: e.key };
  // Command stages' metric files may be committed too; use them when the store lost the run.
  const metrics = metricsFromLock(lock, ctx.store, (ref, entry) => {
    if (entry.type !== 'command') return undefined;
    const spec = `${commit.sha}:${joinRepo(ctx.dirPath, ref.path)}`;
    return readBlobs(ctx.repo, [spec]).get(spec);
  });
  return { label: rev, commit, params, lock, stages, metrics, notes };
}

export interface CurrentResults {
  /** A lock file as it would read after `fisherflow run` for up-to-date stages; stale ones keep their last run. */
  lock?: LockFile;
  stages: Record<string, StageKeyState>;
  /** Stage → why it would rerun (only stale stages). */
  stale: Record<string, StaleReason[]>;
  /** Set when planning failed (e.g. a missing dep): the lock file is used as it is. */
  planError?: string;
}

/**
 * The working tree's results now. A stage whose current key has a result in the store (say,
 * after `exp apply`) shows that result, even though the lock file still names its last run.
 */
export function currentResults(ws: Workspace): CurrentResults {
  const prev = ws.previousLock;
  const stages: Record<string, StageKeyState> = {};
  const stale: Record<string, StaleReason[]> = {};
  let plans;
  try {
    plans = planPipeline(ws);
    ws.statCache.save();
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    for (const [n, e2] of Object.entries(prev?.stages ?? {})) stages[n] = { key: e2.key };
    return { lock: prev, stages, stale, planError: e.message };
  }
  const entries: Record<string, LockStage> = {};
  for (const [n, p] of plans) {
    stages[n] = { key: p.key, reasons: p.status === 'up-to-date' ? [] : p.reasons };
    if (p.status === 'up-to-date' && p.lock && p.record) {
      const outs: LockStage['outs'] = {};
      for (const [k, o] of Object.entries(p.record.outputs)) outs[k] = { path: o.path, hash: o.hash };
      entries[n] = { ...p.lock, outs };
    } else {
      stale[n] = p.reasons;
      if (prev?.stages[n]) entries[n] = prev.stages[n];
    }
  }
  const lock: LockFile = { version: 1, pipeline: prev?.pipeline ?? ws.label, params: ws.pipeline.params, stages: entries };
  return { lock, stages, stale };
}

/** Metrics fallback for the working tree: a command stage's file, if it is the one the lock names. */
export function workspaceFileFallback(pipelineDir: string): MetricsFallback {
  return (ref, entry) => {
    if (entry.type !== 'command') return undefined;
    const abs = join(pipelineDir, ref.path);
    try {
      return hashFileContent(abs) === ref.hash ? readFileSync(abs, 'utf8') : undefined;
    } catch {
      return undefined;
    }
  };
}

/**
 * The working tree: its pipeline's params (with its params files, and `overrides` as `run` would
 * apply them), the keys its stages would have if run now, and their metrics.
 */
export async function readWorkingTree(ctx: PipelineContext, overrides: ParamOverrides = {}): Promise<RevisionState> {
  const notes: string[] = [];
  if (!existsSync(ctx.pipelineFile)) throw new UserError(`pipeline file not found: ${ctx.pipelineFile}`);
  const ws = await openWorkspace(ctx.pipelineFile, { store: ctx.storeOption, set: overrides.set, paramsFile: overrides.paramsFile });
  const params = ws.pipeline.params;
  const cur = currentResults(ws);
  if (cur.planError) notes.push(`workspace: cannot compute current stage keys (${cur.planError}); showing the lock file's`);
  const metrics = metricsFromLock(cur.lock, ctx.store, workspaceFileFallback(dirname(ctx.pipelineFile)));
  return { label: 'workspace', params, lock: cur.lock, stages: cur.stages, metrics, notes };
}
