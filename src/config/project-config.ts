// The project configuration: settings that belong to a project rather than to one pipeline or one
// command line (where stages run, cluster accounts; remotes can add their section here too).
//
//   fisherflow.config.yaml      at the project root: committed, shared by everyone who clones it
//   .fisherflow/config.yaml     this checkout only, never committed: one user's overrides
//
// Both are optional YAML maps, validated against schema/fisherflow.config.schema.json; errors name
// the file, line and column. The local file is merged over the committed one key by key: maps
// merge, anything else (a string, a number, a list) is replaced whole.
//
// Public surface:
//   loadProjectConfig(root): ProjectConfig          throws UserErrors for a malformed file
//   ProjectConfig.get(path): unknown                 the merged value at a path (e.g. ['slurm', 'partition'])
//   ProjectConfig.locate(path): SourceLocation       where that value was set (the winning file)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../stage/registry.js';
import { compileSchema, schemaErrors } from '../pipeline/load.js';
import { parseSourceDocument, type PathSegment, type SourceDocument } from '../pipeline/source.js';
import type { SourceLocation } from '../errors.js';
import type { ValidateFunction } from 'ajv';

export const CONFIG_FILE = 'fisherflow.config.yaml';
export const LOCAL_CONFIG_FILE = join('.fisherflow', 'config.yaml');
export const CONFIG_SCHEMA_PATH = join(PACKAGE_ROOT, 'schema', 'fisherflow.config.schema.json');

export interface ProjectConfig {
  /** The merged configuration ({} when there is no file). */
  readonly value: Record<string, unknown>;
  /** The files read, committed one first. */
  readonly files: string[];
  get(path: readonly string[]): unknown;
  /** Where the value at `path` comes from (the last file that sets it), else undefined. */
  locate(path: readonly PathSegment[]): SourceLocation | undefined;
}

let validator: ValidateFunction | undefined;

export function loadProjectConfig(root: string): ProjectConfig {
  const layers: SourceDocument[] = [];
  for (const rel of [CONFIG_FILE, LOCAL_CONFIG_FILE]) {
    const file = join(root, rel);
    if (!existsSync(file)) continue;
    const doc = parseSourceDocument(readFileSync(file, 'utf8'), file);
    if (doc.value === null || doc.value === undefined) doc.value = {};
    validator ??= compileSchema(JSON.parse(readFileSync(CONFIG_SCHEMA_PATH, 'utf8')));
    if (!validator(doc.value)) throw schemaErrors(validator.errors ?? [], [], doc, 'pipeline');
    layers.push(doc);
  }
  const value = layers.reduce<Record<string, unknown>>((acc, l) => mergeConfig(acc, l.value as Record<string, unknown>), {});
  return {
    value,
    files: layers.map((l) => l.file),
    get: (path) => valueAt(value, path).value,
    locate(path) {
      for (const l of [...layers].reverse()) if (valueAt(l.value, path).found) return l.locate(path);
      return undefined;
    },
  };
}

function valueAt(root: unknown, path: readonly PathSegment[]): { found: boolean; value?: unknown } {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, seg)) return { found: false };
    cur = (cur as Record<string, unknown>)[seg as string];
  }
  return { found: true, value: cur };
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `over` merged onto `base`: maps merge recursively, every other value replaces. */
export function mergeConfig(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isMap(v) && isMap(out[k]) ? mergeConfig(out[k] as Record<string, unknown>, v) : v;
  return out;
}
