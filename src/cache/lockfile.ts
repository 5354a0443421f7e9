// The lock file: the committed record of what ran. One entry per stage, sorted, stable key
// order, JSON with one field per line (valid YAML too), so two identical runs write identical
// bytes and a git diff shows exactly which stage changed and how.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';

export interface LockOutput {
  path: string;
  hash: string;
}

export interface LockStage {
  key: string;
  type: string;
  /** Hash of the built-in stage's code (its module and local imports). */
  code?: string;
  cmd?: string;
  /** Dotted param name → value, for the params this stage's templates read. */
  params?: Record<string, unknown>;
  /** `with:` as resolved, artifact references spelled `stages.X.outputs.Y`. */
  inputs?: Record<string, unknown>;
  /** Local files and folders read (deps and path inputs) → content hash. */
  deps?: Record<string, string>;
  /** Upstream artifacts read (`X.outputs.Y`) → content hash. */
  upstream?: Record<string, string>;
  env?: Record<string, string>;
  outs: Record<string, LockOutput>;
  metrics?: string[];
}

export interface LockFile {
  version: 1;
  pipeline: string;
  params: Record<string, unknown>;
  stages: Record<string, LockStage>;
}

export function lockPathFor(pipelineFile: string): string {
  const ext = extname(pipelineFile);
  return join(dirname(pipelineFile), `${basename(pipelineFile, ext)}.lock`);
}

export function readLock(path: string): LockFile | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as LockFile;
    return v && typeof v === 'object' && v.stages ? v : undefined;
  } catch {
    return undefined;
  }
}

export function parseLockText(text: string): LockFile | undefined {
  try {
    const v = JSON.parse(text) as LockFile;
    return v && typeof v === 'object' && v.stages ? v : undefined;
  } catch {
    return undefined;
  }
}

const ARRAY_INDEX = /^(0|[1-9]\d*)$/;

/**
 * Keys as JSON.stringify would list an object built from them in sorted order: JS objects list
 * array-index keys ('2', '10') first, in numeric order, then the others in insertion order.
 */
function sortedKeys(obj: object): string[] {
  const keys = Object.keys(obj).sort();
  const index = keys.filter((k) => ARRAY_INDEX.test(k) && Number(k) < 4294967295);
  if (index.length === 0) return keys;
  const rest = keys.filter((k) => !(ARRAY_INDEX.test(k) && Number(k) < 4294967295));
  return [...index.sort((a, b) => Number(a) - Number(b)), ...rest];
}

/**
 * `value` with the keys of every object in sorted order, copying only the objects that are not
 * already so (lock entries are built sorted): 10,000 stage entries need no copy, and the native
 * JSON.stringify then writes them.
 */
function sorted(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = sorted(value[i]);
      if (v !== value[i] && !out) out = value.slice(0, i);
      if (out) out.push(v);
    }
    return out ?? value;
  }
  const obj = value as Record<string, unknown>;
  const proto = Object.getPrototypeOf(obj);
  const keys = Object.keys(obj);
  // Already in order: a plain object whose keys ascend and include no array index (those need the general rule).
  // A Date or other class instance becomes its plain own keys, as the first lock writer did.
  let inOrder = proto === Object.prototype || proto === null;
  for (let i = 0; inOrder && i < keys.length; i++) {
    const c = keys[i].charCodeAt(0);
    if ((c >= 48 && c <= 57) || (i > 0 && keys[i - 1] >= keys[i])) inOrder = false;
  }
  if (inOrder) {
    for (let i = 0; i < keys.length; i++) {
      const child = sorted(obj[keys[i]]);
      if (child !== obj[keys[i]]) return Object.fromEntries(keys.map((k, j) => [k, j < i ? obj[k] : j === i ? child : sorted(obj[k])]));
    }
    return obj;
  }
  return Object.fromEntries(sortedKeys(obj).map((k) => [k, sorted(obj[k])]));
}

/**
 * Do two lock entries say the same, whatever the order of their keys? (A parsed entry lists keys
 * sorted, a built one as built.) Plain JSON values only, so cheaper than util.isDeepStrictEqual.
 */
export function sameEntry(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameEntry(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.prototype.hasOwnProperty.call(b, k) || !sameEntry((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

export function serialiseLock(lock: LockFile): string {
  return `${JSON.stringify({ version: lock.version, pipeline: lock.pipeline, params: sorted(lock.params), stages: sorted(lock.stages) }, null, 2)}\n`;
}

/** Write atomically; returns false when the content is unchanged (nothing written). Throws WriteError (e.g. disk full; the old file stays). */
export function writeLock(path: string, lock: LockFile): boolean {
  const text = serialiseLock(lock);
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return false;
  writeFileAtomic(path, text, 'the lock file');
  return true;
}
