// The no-op fast path: after a successful run, remember the stat of everything the plan read
// (the pipeline and params files, the lock file, every dep and path input, the stage and engine
// code and that of stage packages, every run record, stored object and workspace output, and the
// env vars stages declare).
// The next `run` with the same arguments first re-stats those; if every size, mtime and inode is
// unchanged, nothing the keys depend on can have changed (the same trust the stat cache gives
// file hashes), so every stage is cached and the run answers without parsing or planning — which
// is what makes a fully cached 10,000-stage run cheap. Any difference, or any doubt, falls back
// to the full plan, which is always correct.
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeCacheFile } from '../cache/atomic-write.js';
import { canonicalJson, sha256 } from '../cache/hash.js';
import type { RunRecord } from '../cache/store.js';
import { BUILTIN_STAGES_DIR, PACKAGE_ROOT } from '../stage/registry.js';
import { defaultPipelineFile, projectRoot, type Workspace } from '../plan/workspace.js';
import { packageVersion } from './snapshot.js';
import { isArtifactPlaceholder } from '../pipeline/template.js';
import { DEFAULT_PARAMS_FILE } from '../pipeline/params-files.js';
import { HUB_ENV } from '../pipeline/hub.js';

const FORMAT = 2;

export interface FastPathArgs {
  pipelineFile: string;
  set: string[];
  paramsFile?: string;
  store?: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/**
 * [path, kind, size, mtimeMs, inode]; kind 'f' file, 'd' folder (its mtime changes when entries come
 * or go), 'l' a symbolic link itself (re-pointing it changes its inode or mtime), 'F'/'D' the file or
 * folder a link leads to (stat'ed through the link), 'a' absent (must stay so).
 */
type Watched = [string, 'f' | 'd' | 'l' | 'F' | 'D' | 'a', number, number, number];

interface FastPathFile {
  format: number;
  args: string;
  env: Record<string, string | null>;
  watched: Watched[];
  stages: Array<{ name: string; key: string }>;
  summary: string[];
  /** The pipeline's warnings, formatted: a hit repeats them as a full load would. */
  warnings: string[];
}

export interface FastPathHit {
  stages: Array<{ name: string; key: string }>;
  summary: string[];
  warnings: string[];
}

function argsKey(a: FastPathArgs): string {
  return canonicalJson({
    v: packageVersion(),
    pipeline: resolve(a.pipelineFile),
    set: a.set,
    params: a.paramsFile ? resolve(a.cwd, a.paramsFile) : null,
    store: a.store ? resolve(a.cwd, a.store) : null,
    cwd: a.cwd,
    storeEnv: a.env.FISHERFLOW_STORE ?? null,
    stagesPath: a.env.FISHERFLOW_STAGES_PATH ?? null,
  });
}

function snapshotPath(root: string, key: string): string {
  return join(root, '.fisherflow', 'fast-path', `${sha256(key).slice(0, 32)}.json`);
}

function statOf(path: string): Watched | null {
  try {
    const st = lstatSync(path);
    if (st.isDirectory()) return [path, 'd', 0, st.mtimeMs, st.ino];
    if (st.isFile()) return [path, 'f', st.size, st.mtimeMs, st.ino];
    return null; // sockets and the like: no fast path
  } catch {
    return null;
  }
}

/**
 * A file or a whole folder tree, every entry; a symbolic link as the link and what it leads to.
 * Returns false when something cannot be watched (missing, dangling, too deep through links).
 */
function watchTree(path: string, out: Watched[], depth = 0): boolean {
  let lst;
  try {
    lst = lstatSync(path);
  } catch {
    return false;
  }
  let dir: boolean;
  if (lst.isSymbolicLink()) {
    let st;
    try {
      st = statSync(path);
    } catch {
      return false;
    }
    // The plan hashed this tree, so links do not loop; the bound is a second safety net.
    if (depth > 64 || !(st.isFile() || st.isDirectory())) return false;
    out.push([path, 'l', 0, lst.mtimeMs, lst.ino]);
    out.push([path, st.isFile() ? 'F' : 'D', st.isFile() ? st.size : 0, st.mtimeMs, st.ino]);
    dir = st.isDirectory();
  } else {
    const w = statOf(path);
    if (!w) return false;
    out.push(w);
    dir = w[1] === 'd';
  }
  if (dir) {
    for (const name of readdirSync(path)) if (!watchTree(join(path, name), out, depth + 1)) return false;
  }
  return true;
}

/** The fast path's view of a command's arguments. */
export function fastPathArgs(file: string | undefined, o: { set?: string[]; params?: string; store?: string }, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): FastPathArgs {
  return { pipelineFile: resolve(cwd, file ?? defaultPipelineFile(cwd)), set: o.set ?? [], paramsFile: o.params, store: o.store, cwd, env };
}

/** Try the fast path; null means "plan normally" (also with FISHERFLOW_NO_FAST_PATH set). */
export function tryFastPath(args: FastPathArgs): FastPathHit | null {
  if (args.env.FISHERFLOW_NO_FAST_PATH || !existsSync(args.pipelineFile)) return null;
  const key = argsKey(args);
  const file = snapshotPath(projectRoot(dirname(args.pipelineFile)), key);
  let snap: FastPathFile;
  try {
    snap = JSON.parse(readFileSync(file, 'utf8')) as FastPathFile;
  } catch {
    return null;
  }
  if (snap.format !== FORMAT || snap.args !== key) return null;
  for (const [name, value] of Object.entries(snap.env)) if ((args.env[name] ?? null) !== value) return null;
  for (const [path, kind, size, mtime, ino] of snap.watched) {
    let st;
    try {
      st = kind === 'F' || kind === 'D' ? statSync(path) : lstatSync(path);
    } catch {
      if (kind === 'a') continue;
      return null;
    }
    if (kind === 'a') return null;
    if (st.mtimeMs !== mtime || st.ino !== ino) return null;
    const same = kind === 'f' || kind === 'F' ? st.isFile() && st.size === size : kind === 'l' ? st.isSymbolicLink() : st.isDirectory();
    if (!same) return null;
  }
  return { stages: snap.stages, summary: snap.summary, warnings: snap.warnings ?? [] };
}

/**
 * Remember a fully successful run. `records` holds every stage's result. Anything that cannot be
 * watched reliably (a missing path, a link) means no snapshot: the next run plans normally.
 */
export function saveFastPath(ws: Workspace, args: FastPathArgs, records: Map<string, RunRecord>, summary: string[], published: string[] = []): void {
  if (args.env.FISHERFLOW_NO_FAST_PATH) return;
  const file = snapshotPath(ws.root, argsKey(args));
  rmSync(file, { force: true });
  const watched: Watched[] = [];
  const env: Record<string, string | null> = {};
  const ok = (() => {
    // A stage that runs every time is never all cached.
    if (ws.dag.order.some((n) => ws.pipeline.stages.get(n)!.alwaysRun)) return false;
    const paramsFiles = ws.pipeline.paramsFiles.files.map((f) => join(ws.pipeline.dir, f.name));
    // A params.yaml that appears later changes the params.
    if (!existsSync(join(ws.pipeline.dir, DEFAULT_PARAMS_FILE))) watched.push([join(ws.pipeline.dir, DEFAULT_PARAMS_FILE), 'a', 0, 0, 0]);
    for (const p of [ws.pipeline.file, ws.lockPath, ...paramsFiles, ...(args.paramsFile ? [resolve(args.cwd, args.paramsFile)] : []), ...published]) {
      if (!watchTree(p, watched)) return false;
    }
    // Engine and stage code: any rebuild or edit shows up as a changed mtime.
    for (const dir of [join(PACKAGE_ROOT, 'dist', 'src'), BUILTIN_STAGES_DIR, ...(args.env.FISHERFLOW_STAGES_PATH ?? '').split(':').filter(Boolean).map((p) => resolve(p))]) {
      if (existsSync(dir) && !watchTree(dir, watched)) return false;
    }
    // Stage packages (`plugins:`): their stages' code files, package.json, where they resolve from.
    for (const path of ws.registry.pluginWatchPaths()) {
      const w = statOf(path);
      if (!w) return false;
      watched.push(w);
    }
    const produced = (name: string) => ws.dag.producedDeps.get(name) ?? new Map();
    for (const name of ws.dag.order) {
      const spec = ws.pipeline.stages.get(name)!;
      const rec = records.get(name);
      if (!rec) return false;
      for (const v of spec.envFromCaller) env[v] = args.env[v] ?? null;
      for (const dep of spec.deps) {
        if (isArtifactPlaceholder(dep)) continue; // an upstream artifact: its record is watched
        const norm = dep.replace(/^\.\//, '').replace(/\/+$/, '');
        if (produced(name).has(norm)) continue;
        if (!watchTree(join(ws.pipeline.dir, norm), watched)) return false;
      }
      for (const abs of Object.values(spec.pathInputs)) if (!watchTree(abs, watched)) return false;
      // A hub id: another cache folder, or a new download (refs/main), means planning again.
      for (const h of Object.values(spec.hubInputs)) {
        for (const v of HUB_ENV) env[v] = args.env[v] ?? null;
        if (!watchTree(h.repoDir, watched)) return false;
      }
      const recPath = ws.store.recordPath(rec.key);
      const w = statOf(recPath);
      if (!w) return false;
      watched.push(w);
      const objDir = ws.store.objectDir(rec.tree);
      for (const [rel] of rec.files) {
        const f = statOf(join(objDir, rel));
        if (!f) return false;
        watched.push(f);
      }
      if (spec.kind === 'command') {
        for (const rel of Object.values(spec.outs)) if (!watchTree(join(ws.pipeline.dir, rel), watched)) return false;
      }
    }
    return true;
  })();
  if (!ok) return;
  const snap: FastPathFile = {
    format: FORMAT,
    args: argsKey(args),
    env,
    watched,
    stages: ws.dag.order.map((n) => ({ name: n, key: records.get(n)!.key })),
    summary,
    warnings: ws.pipeline.warnings.map((w) => w.format()),
  };
  // Best effort: without it the next run plans in full.
  writeCacheFile(file, JSON.stringify(snap));
}
