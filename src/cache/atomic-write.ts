// Writing a file so that neither a crash nor a full disk leaves it half-written: the content goes
// to a temp file beside it, renamed over the file only once complete. A failed write removes its
// temp file and throws a WriteError naming the file; the previous version stays as it was.
//
// Temp files are named for their writer, `<file>.<pid>@<host>.tmp`, so that `gc` can tell one
// abandoned by a dead process (removed) from one still being written (kept).
//
// Public surface:
//   writeFileAtomic(path, data, what?, { fsync? })   throws WriteError
//   writeCacheFile(path, data): boolean  the same for caches: failure is only a slower next run
//   tempPath(path), tempOwner(name)      the naming rule and its inverse
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { WriteError } from '../errors.js';

/** This machine's name as it appears in temp file names (letters, digits and '-'). */
export const HOST_TAG = hostname().replace(/[^A-Za-z0-9-]/g, '-') || 'host';

export function tempPath(path: string): string {
  return `${path}.${process.pid}@${HOST_TAG}.tmp`;
}

/** The writer of a temp file, from its name; `host` is null for the older `<file>.<pid>.tmp`. Null if not a temp file. */
export function tempOwner(name: string): { host: string | null; pid: number } | null {
  const m = /\.(\d+)(?:@([A-Za-z0-9-]+))?\.tmp$/.exec(name);
  return m ? { host: m[2] ?? null, pid: Number(m[1]) } : null;
}

/**
 * Writes `data` to `path` atomically (temp file + rename); `what` names the file in the error ("the
 * lock file"). `fsync`: flush the content to disk before the rename, for a file another machine
 * reads (a job's result on a shared file system: it sees the whole file or none).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, what?: string, opts: { fsync?: boolean } = {}): void {
  const tmp = tempPath(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
    if (opts.fsync) writeSynced(tmp, data);
    else writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      /* nothing more to undo */
    }
    throw new WriteError(path, e, what);
  }
}

function writeSynced(file: string, data: string | Uint8Array): void {
  const fd = openSync(file, 'w');
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** writeFileAtomic for a cache file: false (and nothing left behind) when it cannot be written. */
export function writeCacheFile(path: string, data: string): boolean {
  try {
    writeFileAtomic(path, data);
    return true;
  } catch {
    return false;
  }
}
