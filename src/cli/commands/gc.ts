// `fisherflow gc`: remove the store entries that nothing keeps alive. Roots: the lock files of
// every pipeline of the project (found by walking it), of every experiment, and — for a store
// shared through --store / FISHERFLOW_STORE — of every project registered with the store (see
// src/cache/store.ts). With --yes it holds the workspace lock of each of those projects while it
// deletes, so no run is half-way (a run in progress makes it refuse), and it removes the temp
// files and staging folders whose writer is dead.
import type { Command } from 'commander';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { HOST_TAG, tempOwner } from '../../cache/atomic-write.js';
import { ContentStore } from '../../cache/store.js';
import { readLock, lockPathFor } from '../../cache/lockfile.js';
import { WorkspaceLock } from '../../cache/workspace-lock.js';
import { experimentsDir } from '../../experiments/records.js';
import { projectRoot, storeRootFor } from '../../plan/workspace.js';
import { UserError } from '../../errors.js';
import { collect, examples, storeOption } from '../options.js';

export function register(program: Command): void {
  program
    .command('gc')
    .argument('[pipelines...]', 'extra pipeline files whose lock files keep their results (every pipeline of the project is kept anyway)')
    .description('remove store entries that no lock file or experiment of any project using the store references (dry run unless --yes)')
    .option('--yes', 'really delete')
    .addOption(storeOption())
    .option('--remote [name]', 'clean the remote (default: the configured one) instead of the local store')
    .option('--rev <revision>', 'with --remote: also keep what the lock files reference at this git revision (repeatable)', collect, [])
    .option('--keep-newer-than <duration>', 'with --remote: keep anything modified this recently, e.g. 30m, 2h, 7d (protects pushes in progress)', '1h')
    .addHelpText('after', examples(['fisherflow gc                                   # what would be removed', 'fisherflow gc --yes', 'fisherflow gc fisherflow.yaml pipelines/demo.yaml --yes', 'fisherflow gc --remote --rev v1.0 --yes       # clean the remote, keeping what v1.0 references']))
    .action(async (files: string[], o: { yes?: boolean; store?: string; remote?: string | true; rev: string[]; keepNewerThan: string }) => {
      if (o.remote !== undefined) {
        const { collectRemoteGarbageCommand } = await import('../remote-gc.js');
        await collectRemoteGarbageCommand(files, { yes: Boolean(o.yes), store: o.store, remote: o.remote, revs: o.rev, keepNewerThan: o.keepNewerThan });
        return;
      }
      if (o.rev.length) throw new UserError('gc: --rev applies to --remote only (the local store keeps what the workspace and its experiments reference)');
      await collectGarbage(files, { yes: Boolean(o.yes), store: o.store });
    });
}

/**
 * The lock files of one project whose results gc keeps (locally and on a remote): the named
 * pipelines', every pipeline's of the project (see pipelineLockFiles) and every experiment's.
 */
export function gcLockFiles(pipelines: string[], cwd: string, store?: string): { root: string; lockFiles: string[] } {
  const named = pipelines.map((p) => lockPathFor(resolve(cwd, p)));
  const root = projectRoot(named.length ? dirname(named[0]) : cwd);
  return { root, lockFiles: [...new Set([...named, ...projectLockFiles(root, storeRootFor(root, store))])] };
}

export interface GcResult {
  removedRuns: number;
  removedObjects: number;
  removedTemps: number;
}

export async function collectGarbage(pipelines: string[], opts: { yes: boolean; store?: string; cwd?: string; out?: (s: string) => void }): Promise<GcResult> {
  const out = opts.out ?? ((s: string) => process.stdout.write(`${s}\n`));
  const cwd = opts.cwd ?? process.cwd();
  const extraLocks = pipelines.map((p) => lockPathFor(resolve(cwd, p)));
  const root = projectRoot(extraLocks.length ? dirname(extraLocks[0]) : cwd);
  const store = new ContentStore(storeRootFor(root, opts.store));
  const started = Date.now();

  // The projects whose results stay: this one, and every one registered with the store.
  const projects = new Map<string, Set<string>>([[root, new Set(extraLocks)]]);
  const gone: string[] = [];
  const held = new Map<string, WorkspaceLock>();
  try {
    // Lock every project, then look at the registry again: a project that registered meanwhile is locked too.
    for (let round = 0; ; round++) {
      const before = projects.size;
      for (const p of store.registeredProjects()) {
        if (!existsSync(p.root)) {
          if (!gone.includes(p.root)) gone.push(p.root);
          continue;
        }
        const locks = projects.get(p.root) ?? new Set<string>();
        for (const l of p.locks) if (existsSync(l)) locks.add(l);
        projects.set(p.root, locks);
      }
      if (!opts.yes) break;
      for (const r of [...projects.keys()].sort()) {
        if (held.has(r)) continue;
        const lock = new WorkspaceLock(join(r, '.fisherflow', 'run.lock'));
        try {
          lock.acquire('fisherflow gc', out);
        } catch (e) {
          if (e instanceof UserError) throw new UserError(`gc: ${e.message} (nothing removed)`);
          throw e;
        }
        held.set(r, lock);
      }
      if (projects.size === before && round > 0) break;
    }

    const lockFiles = new Set<string>();
    for (const [r, locks] of projects) {
      for (const l of locks) lockFiles.add(l);
      for (const l of projectLockFiles(r, store.root)) lockFiles.add(l);
    }
    if (lockFiles.size === 0) throw new UserError('gc: no lock files found; name the pipelines whose results to keep (nothing removed)');
    const keep = new Set<string>();
    for (const lf of [...lockFiles].sort()) {
      const lock = readLock(lf);
      if (!lock) throw new UserError(`gc: cannot read lock file ${lf}; refusing to guess what to keep (nothing removed)`);
      for (const s of Object.values(lock.stages)) keep.add(s.key);
    }

    // Anything written after gc started belongs to a run gc could not see (one that registered too late).
    // (100 ms: file times are kept at a coarser tick than the clock.)
    const fresh = (p: string) => (lstatSync(p, { throwIfNoEntry: false })?.ctimeMs ?? 0) >= started - 100;
    const keepTrees = new Set<string>();
    const dropRuns: string[] = [];
    for (const rec of store.records()) {
      if (keep.has(rec.key) || fresh(store.recordPath(rec.key))) keepTrees.add(rec.tree);
      else dropRuns.push(rec.key);
    }
    const dropObjects = [...store.objects()].filter((t) => !keepTrees.has(t) && !fresh(store.objectDir(t)));
    const dropTemps: string[] = [];
    let foreignTemps = 0;
    for (const t of store.temps()) {
      const owner = tempOwner(basename(t)) ?? legacyStagingOwner(basename(t));
      if (owner && owner.host !== null && owner.host !== HOST_TAG) foreignTemps++;
      else if (!owner || !processAlive(owner.pid)) dropTemps.push(t);
    }

    const verb = opts.yes ? 'removing' : 'would remove';
    out(`${verb} ${dropRuns.length} run records and ${dropObjects.length} objects; keeping ${keep.size} referenced by ${lockFiles.size} lock file(s) of ${projects.size} project(s)`);
    if (dropTemps.length) out(`${verb} ${dropTemps.length} temp file(s) left by interrupted runs`);
    if (foreignTemps) out(`keeping ${foreignTemps} temp file(s) written from other hosts (gc cannot tell whether their writers still run)`);
    for (const g of gone) out(`${opts.yes ? 'forgetting' : 'would forget'} project ${g} (its folder no longer exists)`);
    if (opts.yes) {
      for (const k of dropRuns) store.removeRecord(k);
      for (const t of dropObjects) store.removeObject(t);
      for (const t of dropTemps) store.removeTemp(t);
      for (const g of gone) store.updateProject(g, []);
      for (const [r, locks] of projects) {
        const registered = store.registeredProjects().find((p) => p.root === r);
        if (registered && registered.locks.some((l) => !locks.has(l))) store.updateProject(r, registered.locks.filter((l) => locks.has(l)));
      }
    } else out('(dry run; pass --yes to delete)');
    return { removedRuns: opts.yes ? dropRuns.length : 0, removedObjects: opts.yes ? dropObjects.length : 0, removedTemps: opts.yes ? dropTemps.length : 0 };
  } finally {
    for (const l of held.values()) l.release();
  }
}

/** Lock files of every pipeline and every experiment of the project at `root`. */
function projectLockFiles(root: string, storeRoot: string): string[] {
  return [...pipelineLockFiles(root, storeRoot), ...experimentLockFiles(root)];
}

const SKIP_DIRS = new Set(['node_modules', '__pycache__']);

/** Lock files of the project's pipelines: every `X.lock` beside an `X.yaml`/`X.yml` with `stages:`, outside dot-folders and the store. */
export function pipelineLockFiles(root: string, storeRoot: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // unreadable folder: nothing of ours
    }
    const names = new Set(entries.map((e) => e.name));
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (!e.name.startsWith('.') && !SKIP_DIRS.has(e.name) && p !== storeRoot) walk(p);
      } else if (e.isFile() && e.name.endsWith('.lock')) {
        const base = e.name.slice(0, -'.lock'.length);
        const yaml = [`${base}.yaml`, `${base}.yml`].find((y) => names.has(y));
        if (yaml && isPipeline(join(dir, yaml))) found.push(p);
      }
    }
  };
  walk(root);
  return found.sort();
}

function isPipeline(file: string): boolean {
  try {
    return /^stages\s*:/m.test(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

function experimentLockFiles(root: string): string[] {
  const dir = experimentsDir(root);
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const d of readdirSync(dir)) {
    const sub = join(dir, d);
    let names: string[];
    try {
      names = readdirSync(sub);
    } catch {
      continue;
    }
    for (const f of names) if (f.endsWith('.lock')) found.push(join(sub, f));
  }
  return found;
}

/** Staging folders of older versions: `<stage>-<pid>-<8 hex>`. */
function legacyStagingOwner(name: string): { host: null; pid: number } | null {
  const m = /-(\d+)-[0-9a-f]{8}$/.exec(name);
  return m ? { host: null, pid: Number(m[1]) } : null;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
