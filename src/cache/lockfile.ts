// The lock file: the committed record of what ran. One entry per stage, sorted, stable key
// order, JSON with one field per line (valid YAML too), so two identical runs write identical
// bytes and a git diff shows exactly which stage changed and how.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

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

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

export function serialiseLock(lock: LockFile): string {
  const stages = Object.fromEntries(Object.keys(lock.stages).sort().map((k) => [k, sortKeys(lock.stages[k])]));
  return `${JSON.stringify({ version: lock.version, pipeline: lock.pipeline, params: sortKeys(lock.params), stages }, null, 2)}\n`;
}

/** Write atomically; returns false when the content is unchanged (nothing written). */
export function writeLock(path: string, lock: LockFile): boolean {
  const text = serialiseLock(lock);
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return false;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
  return true;
}
