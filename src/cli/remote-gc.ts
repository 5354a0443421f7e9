// `fisherflow gc --remote [NAME] [--rev REV]... [--yes]`: remove from the remote what no lock file
// references — neither the workspace's (and its experiments') nor those committed at the given
// revisions. A dry run unless --yes (src/cache/remote/remote-gc.ts does the work).
import { relative } from 'node:path';
import { UserError } from '../errors.js';
import { readLock, parseLockText } from '../cache/lockfile.js';
import { collectRemoteGarbage } from '../cache/remote/remote-gc.js';
import { fmtBytes } from '../cache/remote/transfer-progress.js';
import { openRepo, readBlobs, repoPath, resolveRevision } from '../experiments/git.js';
import { storeRootFor } from '../plan/workspace.js';
import { gcLockFiles } from './commands/gc.js';
import { openChosen, requiredRemote } from './remote-options.js';

const UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };

/** "30m", "2h", "7d", "0" → milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/.exec(text);
  if (!m || (m[2] === '' && Number(m[1]) !== 0)) throw new UserError(`${flag} expects a duration such as 30m, 2h or 7d (or 0), got '${text}'`);
  return Number(m[1]) * (UNITS[m[2]] ?? 0);
}

export async function collectRemoteGarbageCommand(pipelines: string[], o: { yes: boolean; store?: string; remote: string | true; revs: string[]; keepNewerThan: string; cwd?: string; out?: (s: string) => void }): Promise<void> {
  const out = o.out ?? ((s: string) => process.stdout.write(`${s}\n`));
  const cwd = o.cwd ?? process.cwd();
  const keepNewerMs = parseDuration(o.keepNewerThan, '--keep-newer-than');
  const { root, lockFiles } = gcLockFiles(pipelines, cwd, o.store);
  const keep = new Set<string>();
  for (const lf of lockFiles) {
    const lock = readLock(lf);
    if (!lock) throw new UserError(`gc: cannot read lock file ${lf}; refusing to guess what to keep (nothing removed)`);
    for (const s of Object.values(lock.stages)) keep.add(s.key);
  }
  if (o.revs.length) {
    const repo = openRepo(lockFiles[0] ?? `${root}/fisherflow.yaml`, 'gc --rev');
    // The workspace's lock files as committed at each revision (experiments live outside git).
    const paths = lockFiles.filter((f) => !relative(root, f).startsWith('.fisherflow')).map((f) => repoPath(repo, f));
    if (paths.length === 0) throw new UserError('gc --rev: no lock file to read at those revisions; name the pipelines');
    for (const rev of o.revs) {
      const commit = resolveRevision(repo, rev);
      const blobs = readBlobs(repo, paths.map((p) => `${commit.sha}:${p}`));
      for (const text of blobs.values()) for (const s of Object.values((text !== undefined && parseLockText(text)?.stages) || {})) keep.add(s.key);
    }
  }
  if (keep.size === 0) throw new UserError('gc --remote: no lock file references anything; refusing to empty the remote (nothing removed)', undefined, 'name the pipelines whose results to keep, or give --rev');
  const chosen = requiredRemote(root, o.remote === true ? undefined : o.remote);
  const remote = await openChosen(chosen, storeRootFor(root, o.store));
  try {
    const r = await collectRemoteGarbage(remote, keep, { yes: o.yes, keepNewerMs });
    const what = `${r.remove.runs} run records, ${r.remove.trees} manifests, ${r.remove.blobs} blobs (${fmtBytes(r.bytes)})${r.remove.tmp ? ` and ${r.remove.tmp} temp files` : ''}`;
    const sources = `${lockFiles.length} lock file(s)${o.revs.length ? ` and ${o.revs.length} revision(s)` : ''}`;
    out(`${o.yes ? 'removing' : 'would remove'} ${what} from '${remote.name}' (${remote.url}); keeping ${r.keep.runs} results referenced by ${sources}${r.recent ? `, and ${r.recent} unreferenced entries newer than ${o.keepNewerThan}` : ''}`);
    if (!o.yes) out('(dry run; pass --yes to delete)');
  } finally {
    remote.close();
  }
}
