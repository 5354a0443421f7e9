// `fisherflow exp apply NAME`: write an experiment's params into the pipeline's `params:`.
// The YAML is edited as a document (yaml's CST-preserving API), so comments and layout stay;
// only values that differ are touched.
import { dirname, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../cache/atomic-write.js';
import { yamlLibrary } from '../pipeline/source.js';
import { canonicalJson } from '../cache/hash.js';
import type { Params } from '../pipeline/params.js';
import { parseSourceDocument, readInputText } from '../pipeline/source.js';
import { defaultPipelineFile, projectRoot } from '../plan/workspace.js';
import { findExperiment, type ExperimentRecord } from './records.js';

export interface AppliedParam {
  key: string;
  old: unknown;
  new: unknown;
  /** The pipeline did not declare it (the experiment ran on an older version of the YAML). */
  added: boolean;
}

export interface ApplyResult {
  experiment: ExperimentRecord;
  pipelineFile: string;
  changes: AppliedParam[];
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Leaf paths of `want` whose value differs from `have` (arrays are leaves, as params are). */
function differences(want: unknown, have: unknown, path: string[], out: Array<{ path: string[]; old: unknown; new: unknown; added: boolean }>): void {
  // A map replacing a list or scalar is one value, not a set of new keys inside it.
  if (isMap(want) && Object.keys(want).length > 0 && isMap(have)) {
    for (const [k, v] of Object.entries(want)) {
      if (!Object.prototype.hasOwnProperty.call(have, k)) out.push({ path: [...path, k], old: undefined, new: v, added: true });
      else differences(v, have[k], [...path, k], out);
    }
    return;
  }
  if (canonicalJson(want) !== canonicalJson(have)) out.push({ path, old: have, new: want, added: false });
}

export function applyExperiment(pipelineFile: string | undefined, name: string): ApplyResult {
  const file = resolve(pipelineFile ?? defaultPipelineFile());
  const root = projectRoot(dirname(file));
  const rel = relative(root, file).split('\\').join('/');
  const exp = findExperiment(root, name, rel);
  const text = readInputText(file, rel);
  // Same checks as loading (size, duplicate keys, syntax) with file:line:column errors.
  const current = parseSourceDocument(text, rel).value as { params?: Params } | null;
  const have = (current && isMap(current) ? current.params : undefined) ?? {};
  const diffs: Array<{ path: string[]; old: unknown; new: unknown; added: boolean }> = [];
  differences(exp.params, have, [], diffs);
  if (diffs.length) {
    writeFileAtomic(file, editParams(text, diffs), 'the pipeline file');
  }
  return { experiment: exp, pipelineFile: file, changes: diffs.map((d) => ({ key: d.path.join('.'), old: d.old, new: d.new, added: d.added })) };
}

/** YAML text for a value at an existing node: flow style for collections, so it fits in place. */
function valueText(v: unknown, originalType: string | undefined): string | undefined {
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') {
    // Keep a plain scalar plain when the new text reads back as the same string.
    if (originalType === 'PLAIN' && /^[A-Za-z_][A-Za-z0-9_./-]*$/.test(v) && yamlLibrary().parse(v) === v) return v;
    // Double-quoted YAML is JSON: safe in block and flow context alike.
    return JSON.stringify(v);
  }
  if (typeof v === 'object') return yamlLibrary().stringify(v, { collectionStyle: 'flow', lineWidth: 0, flowCollectionPadding: false }).trimEnd();
  return undefined;
}

/**
 * Values that already exist are replaced in the text itself, so every other byte (comments,
 * alignment, flow style) stays; only keys the YAML lacks go through yaml's document API, which
 * re-prints the file.
 */
function editParams(text: string, diffs: Array<{ path: string[]; new: unknown; added: boolean }>): string {
  const doc = yamlLibrary().parseDocument(text);
  const splices: Array<{ start: number; end: number; text: string }> = [];
  const structural: typeof diffs = [];
  for (const d of diffs) {
    const node = d.added ? undefined : doc.getIn(['params', ...d.path], true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    const repl = node && (yamlLibrary().isScalar(node) || yamlLibrary().isCollection(node)) ? valueText(d.new, yamlLibrary().isScalar(node) ? node.type : undefined) : undefined;
    // A block collection's range runs into the next line's indentation: keep that whitespace.
    if (range && repl !== undefined) splices.push({ start: range[0], end: range[0] + text.slice(range[0], range[1]).trimEnd().length, text: repl });
    else structural.push(d);
  }
  if (structural.length === 0) {
    let out = text;
    for (const s of splices.sort((a, b) => b.start - a.start)) out = out.slice(0, s.start) + s.text + out.slice(s.end);
    if (reads(out, diffs)) return out;
  }
  for (const d of diffs) {
    const value = d.new !== null && typeof d.new === 'object' ? doc.createNode(d.new, { flow: true }) : d.new;
    doc.setIn(['params', ...d.path], value);
  }
  return doc.toString({ flowCollectionPadding: false, lineWidth: 0 });
}

/** Whether edited text parses and holds the new values (a guard on the in-place edit). */
function reads(text: string, diffs: Array<{ path: string[]; new: unknown }>): boolean {
  const doc = yamlLibrary().parseDocument(text);
  if (doc.errors.length) return false;
  const params = (doc.toJS() as { params?: unknown } | null)?.params;
  return diffs.every((d) => {
    let cur: unknown = params;
    for (const k of d.path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
    return canonicalJson(cur) === canonicalJson(d.new);
  });
}
