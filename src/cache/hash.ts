// Content hashes of files and folders. Folders hash as a Merkle tree of (name, kind, hash), so
// the same content gives the same hash wherever it lives. A stat cache keyed on path, size,
// mtime and inode skips rehashing unchanged files; content, never mtime alone, decides.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
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

export class StatCache {
  private entries: Record<string, StatEntry> = {};
  private dirty = false;
  constructor(private readonly file?: string) {
    if (file && existsSync(file)) {
      try {
        this.entries = JSON.parse(readFileSync(file, 'utf8')) as Record<string, StatEntry>;
      } catch {
        this.entries = {};
      }
    }
  }

  fileHash(path: string, st: Stats): string {
    const e = this.entries[path];
    if (e && e.s === st.size && e.m === st.mtimeMs && e.i === st.ino) return e.h;
    const h = hashFileContent(path);
    this.entries[path] = { s: st.size, m: st.mtimeMs, i: st.ino, h };
    this.dirty = true;
    return h;
  }

  forget(path: string): void {
    if (path in this.entries) {
      delete this.entries[path];
      this.dirty = true;
    }
  }

  save(): void {
    if (!this.file || !this.dirty) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.entries));
    renameSync(tmp, this.file);
    this.dirty = false;
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
}

/** Hash a file or a folder. Symbolic links are refused: they would make the content ambiguous. */
export function hashPath(path: string, cache?: StatCache): HashResult {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) throw new Error(`${path} is a symbolic link; fisherflow hashes only regular files and folders`);
  if (st.isFile()) {
    const hash = cache ? cache.fileHash(path, st) : hashFileContent(path);
    return { kind: 'file', hash, files: [{ path: '', size: st.size, hash }] };
  }
  if (!st.isDirectory()) throw new Error(`${path} is neither a file nor a folder`);
  const files: TreeFile[] = [];
  const hash = hashDir(path, '', files, cache);
  return { kind: 'dir', hash, files };
}

function hashDir(root: string, rel: string, files: TreeFile[], cache?: StatCache): string {
  const dir = rel ? join(root, rel) : root;
  const lines: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const childRel = rel ? `${rel}/${name}` : name;
    const full = join(root, childRel);
    const st = lstatSync(full);
    if (st.isSymbolicLink()) throw new Error(`${full} is a symbolic link; fisherflow hashes only regular files and folders`);
    if (st.isDirectory()) lines.push(`d ${name} ${hashDir(root, childRel, files, cache)}`);
    else if (st.isFile()) {
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
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value as object).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}
