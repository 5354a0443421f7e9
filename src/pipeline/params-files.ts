// Params files: YAML files beside the pipeline whose values are params (`params.yaml` when it
// exists, plus those listed under `params_files:`). They sit between the pipeline's `params:`
// defaults and the command line's `--params FILE` / `--set`. Each leaf remembers the file it
// came from, so a stage's reasons, `exp apply` and the run (which writes overridden values back
// into the file a command reads) know where it lives.
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { UserError, type SourceLocation } from '../errors.js';
import { parseSourceDocument, readSourceDocument } from './source.js';
import { deepMerge, flattenKeys, type Params } from './params.js';

/** The default params file, read when it exists beside the pipeline. */
export const DEFAULT_PARAMS_FILE = 'params.yaml';

export interface ParamsFile {
  /** As written (relative to the pipeline's folder), '/'-separated. */
  name: string;
  values: Params;
}

export interface ParamsFiles {
  files: ParamsFile[];
  /** The params of all files merged, later files over earlier ones. */
  values: Params;
  /** Dotted leaf key → the file it comes from (the last file that sets it). */
  sourceOf: Map<string, string>;
}

/** The params files a pipeline names: `params.yaml` (when `exists` says so) and `params_files:`. */
export function paramsFileNames(listed: unknown, exists: (name: string) => boolean): string[] {
  const names = Array.isArray(listed) ? listed.map(String) : [];
  if (!names.includes(DEFAULT_PARAMS_FILE) && exists(DEFAULT_PARAMS_FILE)) names.unshift(DEFAULT_PARAMS_FILE);
  return names;
}

/**
 * Read and merge params files. `load` gives a file's parsed YAML (undefined: the file is
 * missing); `locate` says where `params_files:` lists a file, for the error when it is missing.
 */
export function mergeParamsFiles(names: string[], load: (name: string) => { value: unknown; label: string } | undefined, locate?: (name: string) => SourceLocation | undefined): ParamsFiles {
  const files: ParamsFile[] = [];
  let values: Params = {};
  const sourceOf = new Map<string, string>();
  for (const name of names) {
    if (isAbsolute(name) || name.split(/[\\/]/).includes('..')) {
      throw new UserError(`params_files: '${name}' must be a path inside the pipeline's folder (relative, without '..')`, locate?.(name));
    }
    const doc = load(name);
    if (doc === undefined) throw new UserError(`params file not found: ${name}`, locate?.(name), 'create it, or remove it from params_files:');
    if (doc.value === null || doc.value === undefined) {
      files.push({ name, values: {} });
      continue;
    }
    if (typeof doc.value !== 'object' || Array.isArray(doc.value)) {
      throw new UserError('a params file must be a map of param names to values', { file: doc.label, line: 1, column: 1 });
    }
    const v = doc.value as Params;
    files.push({ name, values: v });
    values = deepMerge(values, v);
    for (const key of Object.keys(flattenKeys(v))) sourceOf.set(key, name);
  }
  return { files, values, sourceOf };
}

/** The params files of a pipeline in the working tree (`dir` is the pipeline's folder; `prefix` labels them in messages). */
export function readWorkspaceParamsFiles(dir: string, listed: unknown, prefix = '', locate?: (name: string) => SourceLocation | undefined): ParamsFiles {
  const names = paramsFileNames(listed, (n) => existsSync(join(dir, n)));
  return mergeParamsFiles(
    names,
    (n) => {
      const abs = join(dir, n);
      if (!existsSync(abs)) return undefined;
      // The same limits and checks as the pipeline file (size, duplicate and dangerous keys).
      return { value: readSourceDocument(abs, `${prefix}${n}`).value, label: `${prefix}${n}` };
    },
    locate,
  );
}

/** The params files of a pipeline as committed: `read` gives a file's text at that revision. */
export function readCommittedParamsFiles(listed: unknown, read: (name: string) => string | undefined, label: (name: string) => string): ParamsFiles {
  const names = paramsFileNames(listed, (n) => read(n) !== undefined);
  return mergeParamsFiles(names, (n) => {
    const text = read(n);
    return text === undefined ? undefined : { value: parseSourceDocument(text, label(n)).value, label: label(n) };
  });
}

/** The file a param (a leaf, or a section: any leaf under it) comes from, if any. */
export function paramsFileOf(sourceOf: ReadonlyMap<string, string>, key: string): string | undefined {
  const direct = sourceOf.get(key);
  if (direct) return direct;
  for (const [leaf, file] of sourceOf) if (leaf.startsWith(`${key}.`)) return file;
  return undefined;
}
