// Everything a command needs about one pipeline: the parsed pipeline, its DAG, the store, the
// stat cache and the previous lock file. Loading is pure apart from reading files.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { loadPipeline, type Pipeline } from '../pipeline/load.js';
import { buildDag, type Dag } from '../graph/dag.js';
import { ContentStore } from '../cache/store.js';
import { StatCache } from '../cache/hash.js';
import { WorkspaceOutputs } from '../cache/workspace-outputs.js';
import { lockPathFor, readLock, type LockFile } from '../cache/lockfile.js';
import { StageRegistry } from '../stage/registry.js';
import { UserError } from '../errors.js';
import { checkOutputPaths } from './output-guard.js';
import { recoverParamsFiles } from '../run/effective-params.js';

export interface Workspace {
  pipeline: Pipeline;
  dag: Dag;
  /** The project root: the nearest folder above the pipeline with `.git`, else the pipeline's folder. */
  root: string;
  store: ContentStore;
  statCache: StatCache;
  lockPath: string;
  previousLock?: LockFile;
  registry: StageRegistry;
  /** The pipeline path as the user should see it (relative to the root). */
  label: string;
  /** Where command stages run and write their outputs: the pipeline's folder (an experiment's private mirror for `exp run`). */
  runDir: string;
  /** What fisherflow wrote to command-stage outputs in `runDir`, and the journal of running ones. */
  outputs: WorkspaceOutputs;
}

export interface WorkspaceOptions {
  set?: string[];
  paramsFile?: string;
  store?: string;
  env?: NodeJS.ProcessEnv;
  /** Where the pipeline's warnings go (default: stderr, as `fisherflow: warning: ...`). */
  warn?: (warning: UserError) => void;
}

/** A warning's text (`UserError.format()`) on stderr, as the CLI prints warnings. */
export const printWarningText = (text: string) => process.stderr.write(`fisherflow: warning: ${text.replace(/\n/g, '\nfisherflow: ')}\n`);
export const printWarning = (w: UserError) => printWarningText(w.format());

export function projectRoot(start: string): string {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, '.git'))) return dir;
    const up = dirname(dir);
    if (up === dir) return resolve(start);
    dir = up;
  }
}

/** The content store's folder: --store, else $FISHERFLOW_STORE, else artifacts/ at the project root. */
export function storeRootFor(root: string, store?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(store ?? env.FISHERFLOW_STORE ?? join(root, 'artifacts'));
}

export function defaultPipelineFile(cwd = process.cwd()): string {
  for (const name of ['fisherflow.yaml', 'fisherflow.yml']) if (existsSync(join(cwd, name))) return join(cwd, name);
  throw new UserError(`no pipeline given and no fisherflow.yaml in ${cwd} (\`fisherflow init\` starts a project there; \`fisherflow init --example tour\` the README's tour)`);
}

export async function openWorkspace(file: string | undefined, opts: WorkspaceOptions = {}): Promise<Workspace> {
  const env = opts.env ?? process.env;
  const pipelineFile = resolve(file ?? defaultPipelineFile());
  if (!existsSync(pipelineFile)) throw new UserError(`pipeline file not found: ${file}`);
  const registry = StageRegistry.fromEnvironment(env);
  const root = projectRoot(dirname(pipelineFile));
  // A run that died while params files held its --set values: put the user's text back first.
  recoverParamsFiles(root);
  const pipeline = await loadPipeline(pipelineFile, { registry, set: opts.set, paramsFile: opts.paramsFile, cacheDir: join(root, '.fisherflow', 'parsed') });
  for (const w of pipeline.warnings) (opts.warn ?? printWarning)(w);
  const storeRoot = storeRootFor(root, opts.store, env);
  const lockPath = lockPathFor(pipelineFile);
  checkOutputPaths(pipeline, { root, storeRoot, lockPath, paramsFile: opts.paramsFile });
  const dag = buildDag(pipeline);
  if (statSync(lockPath, { throwIfNoEntry: false })?.isFile() === false) throw new UserError(`${relative(process.cwd(), lockPath) || lockPath} is not a file; fisherflow keeps its lock file there (move it away)`);
  const store = new ContentStore(storeRoot);
  let previousLock: LockFile | undefined | null = null;
  store.useRecordCache(join(root, '.fisherflow', 'record-cache.json'));
  return {
    pipeline,
    dag,
    root,
    store,
    statCache: new StatCache(join(root, '.fisherflow', 'stat-cache.json')),
    lockPath,
    // Read on first use: a fully cached `status` never needs it.
    get previousLock() {
      if (previousLock === null) previousLock = readLock(lockPath);
      return previousLock;
    },
    registry,
    label: relative(process.cwd(), pipelineFile) || pipelineFile,
    runDir: pipeline.dir,
    outputs: new WorkspaceOutputs(root, join(root, '.fisherflow')),
  };
}
