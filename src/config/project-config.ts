// Project settings that are not part of a pipeline: where results are shared (remotes), how stages
// are executed (executor), ... One YAML file per layer, merged:
//
//   fisherflow.config.yaml          at the project root, committed: what everyone on the project uses
//   .fisherflow/config.local.yaml   beside it, not committed: this user's overrides (same keys)
//
// The local file is merged over the project file key by key (maps merge, anything else replaces;
// `null` removes a key). Each top-level key is a section owned by one part of fisherflow, which
// reads it with `section(name)` and reports mistakes with `locate(path)`: the file, line and
// column of the layer that set the value. Both files are optional; without them every section is
// undefined and nothing is parsed.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError, type SourceLocation } from '../errors.js';
import { didYouMean } from '../pipeline/errors.js';
import { readSourceDocument, type PathSegment, type SourceDocument } from '../pipeline/source.js';

export const PROJECT_CONFIG_FILE = 'fisherflow.config.yaml';
export const LOCAL_CONFIG_FILE = join('.fisherflow', 'config.local.yaml');

/** The sections fisherflow reads; anything else at the top level is a mistake (typo, old key). */
export const CONFIG_SECTIONS = ['remotes', 'remote', 'executor'] as const;
export type ConfigSection = (typeof CONFIG_SECTIONS)[number];

export interface ProjectConfig {
  root: string;
  /** The files that exist, project file first, local overrides last. */
  files: string[];
  /** The merged value of a section (undefined when no layer sets it). */
  section(name: ConfigSection): unknown;
  /** Where the value at `path` was set: in the last layer that has it (else the project file's start). */
  locate(path: readonly PathSegment[], which?: 'key' | 'value'): SourceLocation;
}

type Plain = Record<string, unknown>;

const isMap = (v: unknown): v is Plain => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `over` merged onto `base`: maps key by key, other values replace, null removes. */
export function mergeConfig(base: unknown, over: unknown): unknown {
  if (!isMap(base) || !isMap(over)) return over;
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else out[k] = k in out ? mergeConfig(out[k], v) : v;
  }
  return out;
}

function has(value: unknown, path: readonly PathSegment[]): boolean {
  let cur = value;
  for (const seg of path) {
    if (!isMap(cur) || !(String(seg) in cur)) return false;
    cur = cur[String(seg)];
  }
  return true;
}

/** Read and merge the project's config layers (parse cache: `.fisherflow/parsed`, as for pipelines). */
export function loadProjectConfig(root: string): ProjectConfig {
  const layers: SourceDocument[] = [];
  for (const rel of [PROJECT_CONFIG_FILE, LOCAL_CONFIG_FILE]) {
    const file = join(root, rel);
    if (!existsSync(file)) continue;
    const doc = readSourceDocument(file, file, { cacheDir: join(root, '.fisherflow', 'parsed') });
    if (doc.value !== null && !isMap(doc.value)) throw new UserError(`a config file must be a map of sections (${CONFIG_SECTIONS.join(', ')})`, doc.locate([]));
    for (const key of Object.keys((doc.value as Plain | null) ?? {})) {
      if (!(CONFIG_SECTIONS as readonly string[]).includes(key)) {
        throw new UserError(`unknown config section '${key}'${didYouMean(key, CONFIG_SECTIONS)}; sections: ${CONFIG_SECTIONS.join(', ')}`, doc.locate([key], 'key'));
      }
    }
    doc.remember({ config: '1' });
    layers.push(doc);
  }
  let merged: unknown = {};
  for (const l of layers) merged = mergeConfig(merged, l.value ?? {});
  const value = merged as Plain;
  return {
    root,
    files: layers.map((l) => l.file),
    section: (name) => value[name],
    locate(path, which) {
      for (let i = layers.length - 1; i >= 0; i--) if (has(layers[i].value, path)) return layers[i].locate(path, which);
      return layers.length ? layers[0].locate([]) : { file: join(root, PROJECT_CONFIG_FILE), line: 1, column: 1 };
    },
  };
}
