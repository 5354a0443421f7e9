// Edit values in a YAML file (a pipeline's `params:`, a params file) keeping its comments and
// layout: `exp apply` writes an experiment's params back, and a run writes overridden params
// into the params file a command reads.
import { writeFileAtomic } from '../cache/atomic-write.js';
import { canonicalJson } from '../cache/hash.js';
import { yamlLibrary } from './source.js';

/** Replace a file's text in one step (temp file + rename): a reader never sees half of it. */
export function writeYamlText(path: string, text: string): void {
  writeFileAtomic(path, text);
}

export interface ValueChange {
  path: string[];
  old: unknown;
  new: unknown;
  /** The YAML does not have the key yet. */
  added: boolean;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Leaf paths of `want` whose value differs from `have` (arrays are leaves, as params are). */
export function differences(want: unknown, have: unknown, path: string[], out: ValueChange[]): void {
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
 * Set values under `root` (['params'] in a pipeline, [] in a params file). Values that already
 * exist are replaced in the text itself, so every other byte (comments, alignment, flow style)
 * stays; only keys the YAML lacks go through yaml's document API, which re-prints the file.
 */
export function editYamlValues(text: string, root: string[], diffs: Array<{ path: string[]; new: unknown; added: boolean }>): string {
  const doc = yamlLibrary().parseDocument(text);
  const splices: Array<{ start: number; end: number; text: string }> = [];
  const structural: typeof diffs = [];
  for (const d of diffs) {
    const node = d.added ? undefined : doc.getIn([...root, ...d.path], true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    const repl = node && (yamlLibrary().isScalar(node) || yamlLibrary().isCollection(node)) ? valueText(d.new, yamlLibrary().isScalar(node) ? node.type : undefined) : undefined;
    // A block collection's range runs into the next line's indentation: keep that whitespace.
    if (range && repl !== undefined) splices.push({ start: range[0], end: range[0] + text.slice(range[0], range[1]).trimEnd().length, text: repl });
    else structural.push(d);
  }
  if (structural.length === 0) {
    let out = text;
    for (const s of splices.sort((a, b) => b.start - a.start)) out = out.slice(0, s.start) + s.text + out.slice(s.end);
    if (reads(out, root, diffs)) return out;
  }
  for (const d of diffs) {
    const value = d.new !== null && typeof d.new === 'object' ? doc.createNode(d.new, { flow: true }) : d.new;
    doc.setIn([...root, ...d.path], value);
  }
  return doc.toString({ flowCollectionPadding: false, lineWidth: 0 });
}

/** Whether edited text parses and holds the new values (a guard on the in-place edit). */
function reads(text: string, root: string[], diffs: Array<{ path: string[]; new: unknown }>): boolean {
  const doc = yamlLibrary().parseDocument(text, { merge: true });
  if (doc.errors.length) return false;
  const top = doc.toJS() as unknown;
  return diffs.every((d) => {
    let cur: unknown = top;
    for (const k of [...root, ...d.path]) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
    return canonicalJson(cur) === canonicalJson(d.new);
  });
}
