// What a remote holds, and how its documents are read back without trusting them.
//
//   blobs/ab/<sha256>        one file's content, named by its SHA-256 (shared by every result holding it)
//   trees/ab/<tree>.json     manifest of one result folder: its files (path, size, SHA-256) and folders
//   runs/ab/<key>.json       run record: stage key → tree and per-output hashes (as in the local store)
//   tmp/                     a directory remote's half-written files (garbage after a crash)
//
// A push writes blobs, then the manifest once all of its blobs are there, then the record once its
// manifest is there; so whoever sees a record can expect everything it names. A pull trusts none
// of it: every blob is checked against its SHA-256 as it arrives, and the assembled folder must
// hash to the record's tree and outputs before the local store takes it (ContentStore.install).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from '../store.js';
import { RemoteError } from './remote-store.js';

export type RemoteArea = 'blobs' | 'trees' | 'runs';

export const blobKey = (sha256: string) => `blobs/${sha256.slice(0, 2)}/${sha256}`;
export const treeKey = (tree: string) => `trees/${tree.slice(0, 2)}/${tree}.json`;
export const recordKey = (key: string) => `runs/${key.slice(0, 2)}/${key}.json`;

export function keyOf(area: RemoteArea, id: string): string {
  return area === 'blobs' ? blobKey(id) : area === 'trees' ? treeKey(id) : recordKey(id);
}

/** The id (hash) a listed key names, or undefined for anything else (temp files, strays). */
export function idOf(area: RemoteArea, key: string): string | undefined {
  const m = (area === 'blobs' ? /^blobs\/([0-9a-f]{2})\/([0-9a-f]{64})$/ : new RegExp(`^${area}/([0-9a-f]{2})/([0-9a-f]{64})\\.json$`)).exec(key);
  return m && m[2].startsWith(m[1]) ? m[2] : undefined;
}

export interface TreeManifest {
  version: 1;
  tree: string;
  /** [path inside the result folder, size, SHA-256] */
  files: Array<[string, number, string]>;
  /** Every folder inside it (so empty ones come back too). */
  dirs: string[];
}

/** The manifest of a local result folder, from its record's file list. */
export function manifestOf(objectDir: string, record: RunRecord): TreeManifest {
  const dirs: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(rel ? join(objectDir, rel) : objectDir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const child = rel ? `${rel}/${e.name}` : e.name;
      dirs.push(child);
      walk(child);
    }
  };
  walk('');
  return { version: 1, tree: record.tree, files: record.files.map(([path, size, , hash]) => [path, size, hash]), dirs: dirs.sort() };
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A relative path that stays inside its folder: not absolute, no '..' segment. */
export function isSafeRelativePath(p: unknown): p is string {
  if (typeof p !== 'string' || p === '' || p.startsWith('/') || p.includes('\0')) return false;
  return !p.split(/[\\/]/).includes('..');
}

function parseJson(remote: string, key: string, bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RemoteError(remote, 'integrity', `${key} is not valid JSON (damaged or truncated)`);
  }
}

/** A manifest read from `key`, checked for shape and safe paths (its hashes are checked on install). */
export function parseManifest(remote: string, key: string, bytes: Buffer, tree: string): TreeManifest {
  const m = parseJson(remote, key, bytes) as TreeManifest;
  const bad = (why: string) => new RemoteError(remote, 'integrity', `${key} is not a valid tree manifest: ${why}`);
  if (!m || typeof m !== 'object' || m.version !== 1 || !Array.isArray(m.files) || !Array.isArray(m.dirs)) throw bad('unexpected format');
  if (m.tree !== tree) throw bad(`it describes tree ${String(m.tree).slice(0, 12)}…`);
  for (const f of m.files) {
    if (!Array.isArray(f) || f.length !== 3 || !isSafeRelativePath(f[0]) || !Number.isSafeInteger(f[1]) || f[1] < 0 || typeof f[2] !== 'string' || !HEX64.test(f[2])) throw bad(`bad file entry ${JSON.stringify(f).slice(0, 120)}`);
  }
  for (const d of m.dirs) if (!isSafeRelativePath(d)) throw bad(`bad folder entry ${JSON.stringify(d).slice(0, 120)}`);
  return m;
}

/** A run record read from `key`, checked to be the record of `expectedKey` with safe paths. */
export function parseRecord(remote: string, key: string, bytes: Buffer, expectedKey: string): RunRecord {
  const r = parseJson(remote, key, bytes) as RunRecord;
  const bad = (why: string) => new RemoteError(remote, 'integrity', `${key} is not a valid run record: ${why}`);
  if (!r || typeof r !== 'object' || r.version !== 1 || typeof r.tree !== 'string' || !HEX64.test(r.tree) || !r.outputs || typeof r.outputs !== 'object' || !Array.isArray(r.files)) throw bad('unexpected format');
  if (r.key !== expectedKey) throw bad(`it is the record of key ${String(r.key).slice(0, 12)}…`);
  for (const [name, o] of Object.entries(r.outputs)) {
    if (!o || (o.kind !== 'file' && o.kind !== 'dir') || typeof o.hash !== 'string' || !isSafeRelativePath(o.path)) throw bad(`bad output '${name}'`);
  }
  return r;
}
