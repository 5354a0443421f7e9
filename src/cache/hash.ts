// Content hashes of files and folders. Folders hash as a Merkle tree of (name, kind, hash), so
// the same content gives the same hash wherever it lives. A stat cache keyed on path, size,
// mtime and inode skips rehashing unchanged files; content, never mtime alone, decides.
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, lstatSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join, sep } from 'node:path';
import { writeCacheFile } from './atomic-write.js';

// crypto.hash (Node >= 20.12) hashes in one call, without a Hash object per key.
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string | Uint8Array, encoding: 'hex') => string }).hash;

export function sha256(data: string | Uint8Array): string {
  return oneShotHash ? oneShotHash('sha256', data, 'hex') : createHash('sha256').update(data).digest('hex');
}

const CHUNK = 1 << 20;
const chunkBuf = Buffer.allocUnsafe(CHUNK);

export function hashFileContent(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, chunkBuf, 0, CHUNK, null);
      if (n <= 0) break;
      h.update(chunkBuf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

interface StatEntry {
  s: number; // size
  m: number; // mtimeMs
  i: number; // inode
  h: string;
}

/** On disk: `{"format":2,"entries":[[path, size, mtimeMs, inode, hash], ...]}` (tuples parse faster than 10,000 keyed objects). */
const STAT_CACHE_FORMAT = 2;
type StatTuple = [string, number, number, number, string];

export class StatCache {
  private loaded?: Map<string, StatEntry>;
  private dirty = false;
  constructor(private readonly file?: string) {}

  /** Read on first use: planning a pipeline whose deps are all produced by stages hashes no file. */
  private get entries(): Map<string, StatEntry> {
    if (!this.loaded) {
      this.loaded = new Map();
      if (this.file && existsSync(this.file)) {
        try {
          const data = JSON.parse(readFileSync(this.file, 'utf8')) as { format?: number; entries?: StatTuple[] };
          // Anything else (an older format, a damaged file) is an empty cache: files are rehashed.
          if (data && data.format === STAT_CACHE_FORMAT && Array.isArray(data.entries)) {
            for (const [path, s, m, i, h] of data.entries) this.loaded.set(path, { s, m, i, h });
          }
        } catch {
          this.loaded = new Map();
        }
      }
    }
    return this.loaded;
  }

  fileHash(path: string, st: Stats): string {
    const e = this.entries.get(path);
    if (e && e.s === st.size && e.m === st.mtimeMs && e.i === st.ino) return e.h;
    const h = hashFileContent(path);
    this.entries.set(path, { s: st.size, m: st.mtimeMs, i: st.ino, h });
    this.dirty = true;
    return h;
  }

  forget(path: string): void {
    if (this.entries.delete(path)) this.dirty = true;
  }

  /** Forget every entry under a folder (one that is gone, such as an experiment's mirror). */
  forgetUnder(dir: string): void {
    const prefix = dir.endsWith(sep) ? dir : dir + sep;
    for (const path of this.entries.keys()) if (path.startsWith(prefix) && this.entries.delete(path)) this.dirty = true;
  }

  /** Best effort: a cache that cannot be written (disk full) only makes the next run rehash. */
  save(): void {
    if (!this.file || !this.dirty) return;
    const entries: StatTuple[] = [];
    for (const [path, e] of this.entries) entries.push([path, e.s, e.m, e.i, e.h]);
    if (writeCacheFile(this.file, JSON.stringify({ format: STAT_CACHE_FORMAT, entries }))) this.dirty = false;
  }
}

export interface TreeFile {
  /** Path relative to the hashed root ('' for a single file). */
  path: string;
  size: number;
  hash: string;
}

export interface HashResult {
  kind: 'file' | 'dir';
  hash: string;
  files: TreeFile[];
  /** Some entry was reached through a symbolic link. */
  links?: boolean;
}

/** A path that cannot be hashed (a dangling or looping link, a socket): the caller names the dep. */
export class UnhashablePathError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Hash a file or a folder. Symbolic links are followed: a link hashes as what it points to (a Hugging
 * Face hub snapshot is a folder of links into blobs/), so the key follows the content. A dangling
 * link, a link loop or anything that is neither file nor folder is an UnhashablePathError.
 */
export function hashPath(path: string, cache?: StatCache): HashResult {
  const lst = lstatSync(path);
  const st = followedStat(path, lst);
  if (st.isFile()) {
    const hash = cache ? cache.fileHash(path, st) : hashFileContent(path);
    return { kind: 'file', hash, files: [{ path: '', size: st.size, hash }] };
  }
  if (!st.isDirectory()) throw new UnhashablePathError(path, `${path} is neither a file nor a folder`);
  const files: TreeFile[] = [];
  // followedStat returns the lstat itself unless the path is a link.
  const seen = { links: st !== lst };
  const hash = hashDir(path, '', files, cache, [realpathSync(path)], seen);
  return { kind: 'dir', hash, files, ...(seen.links ? { links: true } : {}) };
}

/** stat() through links (`lst` itself when `path` is no link), a dangling link as an UnhashablePathError. */
function followedStat(path: string, lst: Stats): Stats {
  if (!lst.isSymbolicLink()) return lst;
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    let target = '?';
    try {
      target = readlinkSync(path);
    } catch {
      /* keep '?' */
    }
    if (code === 'ELOOP') throw new UnhashablePathError(path, `${path} is a symbolic link that loops (→ ${target})`);
    throw new UnhashablePathError(path, `${path} is a dangling symbolic link (→ ${target}, which does not exist)`);
  }
}

/** `ancestors`: real paths of the folders being hashed above this one, to refuse a link back up. */
function hashDir(root: string, rel: string, files: TreeFile[], cache: StatCache | undefined, ancestors: string[], seen: { links: boolean }): string {
  const dir = rel ? join(root, rel) : root;
  const lines: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const childRel = rel ? `${rel}/${name}` : name;
    const full = join(root, childRel);
    const lst = lstatSync(full);
    const st = followedStat(full, lst);
    if (lst !== st) seen.links = true;
    if (st.isDirectory()) {
      // Through a link, a folder may be one we are already inside: that would never end.
      const real = lst.isSymbolicLink() ? realpathSync(full) : join(ancestors[ancestors.length - 1], name);
      if (lst.isSymbolicLink() && ancestors.some((a) => real === a || a.startsWith(real + sep))) {
        throw new UnhashablePathError(full, `${full} is a symbolic link to a folder that contains it (${real})`);
      }
      lines.push(`d ${name} ${hashDir(root, childRel, files, cache, [...ancestors, real], seen)}`);
    } else if (st.isFile()) {
      const h = cache ? cache.fileHash(full, st) : hashFileContent(full);
      files.push({ path: childRel, size: st.size, hash: h });
      lines.push(`f ${name} ${h}`);
    }
  }
  return sha256(`tree\n${lines.join('\n')}`);
}

/** Canonical JSON (sorted keys) for hashing structured values. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  // Built by concatenation (no intermediate arrays): keys of 10,000 stages are hashed per command.
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const keys = Object.keys(value as object).sort();
  out = '{';
  for (let i = 0; i < keys.length; i++) out += `${i ? ',' : ''}${JSON.stringify(keys[i])}:${canonicalJson((value as Record<string, unknown>)[keys[i]])}`;
  return `${out}}`;
}
