// `fisherflow gc`: keep every store entry some lock file references, remove the rest.
import type { Command } from 'commander';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ContentStore } from '../../cache/store.js';
import { readLock, lockPathFor } from '../../cache/lockfile.js';
import { projectRoot } from '../../plan/workspace.js';
import { UserError } from '../../errors.js';
import { collect, examples, storeOption } from '../options.js';

export function register(program: Command): void {
  program
    .command('gc')
    .argument('[pipelines...]', 'pipeline files whose lock files keep their results (default: every *.lock beside ./fisherflow.yaml)')
    .description('remove store entries that no lock file references (dry run unless --yes)')
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

/** The lock files whose results gc keeps: the named pipelines' (or every *.lock here) and the experiments'. */
export function gcLockFiles(pipelines: string[], cwd: string): { root: string; lockFiles: string[] } {
  let lockFiles: string[];
  if (pipelines.length) lockFiles = pipelines.map((p) => lockPathFor(resolve(cwd, p)));
  else lockFiles = readdirSync(cwd).filter((f) => f.endsWith('.lock')).map((f) => join(cwd, f));
  const root = projectRoot(lockFiles.length ? dirname(lockFiles[0]) : cwd);
  // Experiments keep their lock files beside the pipeline's, under .fisherflow/experiments.
  const expDir = join(root, '.fisherflow', 'experiments');
  if (existsSync(expDir)) {
    for (const d of readdirSync(expDir)) {
      const dir = join(expDir, d);
      for (const f of existsSync(dir) ? readdirSync(dir) : []) if (f.endsWith('.lock')) lockFiles.push(join(dir, f));
    }
  }
  return { root, lockFiles };
}

export async function collectGarbage(pipelines: string[], opts: { yes: boolean; store?: string; cwd?: string; out?: (s: string) => void }): Promise<{ removedRuns: number; removedObjects: number }> {
  const out = opts.out ?? ((s: string) => process.stdout.write(`${s}\n`));
  const { root, lockFiles } = gcLockFiles(pipelines, opts.cwd ?? process.cwd());
  if (lockFiles.length === 0) throw new UserError('gc: no lock files found; name the pipelines whose results to keep (nothing removed)');
  const keep = new Set<string>();
  for (const lf of lockFiles) {
    const lock = readLock(lf);
    if (!lock) throw new UserError(`gc: cannot read lock file ${lf}; refusing to guess what to keep (nothing removed)`);
    for (const s of Object.values(lock.stages)) keep.add(s.key);
  }
  const store = new ContentStore(resolve(opts.store ?? process.env.FISHERFLOW_STORE ?? join(root, 'artifacts')));
  const keepTrees = new Set<string>();
  const dropRuns: string[] = [];
  for (const rec of store.records()) {
    if (keep.has(rec.key)) keepTrees.add(rec.tree);
    else dropRuns.push(rec.key);
  }
  const dropObjects = [...store.objects()].filter((t) => !keepTrees.has(t));
  out(`${opts.yes ? 'removing' : 'would remove'} ${dropRuns.length} run records and ${dropObjects.length} objects; keeping ${keep.size} referenced by ${lockFiles.length} lock file(s)`);
  if (opts.yes) {
    for (const k of dropRuns) store.removeRecord(k);
    for (const t of dropObjects) store.removeObject(t);
    store.clearTmp();
  } else out('(dry run; pass --yes to delete)');
  return { removedRuns: opts.yes ? dropRuns.length : 0, removedObjects: opts.yes ? dropObjects.length : 0 };
}
