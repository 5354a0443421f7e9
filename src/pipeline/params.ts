// Params: defaults from the pipeline (and its params files, see params-files.ts), then a params
// file given on the command line (--params), then --set key=value.
import { readSourceDocument, yamlLibrary } from './source.js';
import { UserError } from '../errors.js';

export type Params = Record<string, unknown>;

/** Parse the value of `--set k=v` as YAML (so numbers, booleans and lists keep their type). */
export function parseSetValue(raw: string): unknown {
  try {
    const v = yamlLibrary().parse(raw);
    return v === null && raw.trim() !== 'null' && raw.trim() !== '~' ? raw : v;
  } catch {
    return raw;
  }
}

export function parseSetOption(opt: string): [string, unknown] {
  const eq = opt.indexOf('=');
  if (eq <= 0) throw new UserError(`--set expects key=value, got '${opt}'`);
  const key = opt.slice(0, eq).trim();
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(key)) throw new UserError(`--set: '${key}' is not a param key (dotted names like model.lr)`);
  return [key, parseSetValue(opt.slice(eq + 1))];
}

export function setDotted(target: Params, key: string, value: unknown): void {
  const parts = key.split('.');
  let obj: Record<string, unknown> = target;
  for (const p of parts.slice(0, -1)) {
    const cur = obj[p];
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) obj[p] = {};
    obj = obj[p] as Record<string, unknown>;
  }
  obj[parts[parts.length - 1]] = value;
}

export function getDotted(source: unknown, key: string): { found: boolean; value?: unknown } {
  let cur: unknown = source;
  for (const p of key.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, p)) return { found: false };
    cur = (cur as Record<string, unknown>)[p];
  }
  return { found: true, value: cur };
}

/** Every leaf key, dotted. */
export function flattenKeys(value: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) out[prefix] = value;
    for (const [k, v] of entries) flattenKeys(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) out[prefix] = value;
  return out;
}

/** `over` merged into `base`: maps merge key by key, anything else in `over` replaces. */
export function deepMerge(base: Params, over: Params): Params {
  const out: Params = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)) out[k] = deepMerge(b as Params, v as Params);
    else out[k] = v;
  }
  return out;
}

export interface ParamOverrides {
  paramsFile?: string;
  set?: string[];
}

export function resolveParams(defaults: Params, overrides: ParamOverrides): Params {
  let params = structuredClone(defaults);
  if (overrides.paramsFile) {
    const src = readSourceDocument(overrides.paramsFile);
    if (src.value === null || typeof src.value !== 'object' || Array.isArray(src.value)) {
      throw new UserError('a params file must be a map of param names to values', { file: overrides.paramsFile, line: 1, column: 1 });
    }
    params = deepMerge(params, src.value as Params);
  }
  for (const s of overrides.set ?? []) {
    const [k, v] = parseSetOption(s);
    setDotted(params, k, v);
  }
  return params;
}
