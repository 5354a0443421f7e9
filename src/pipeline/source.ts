// Parse a YAML file into a document that keeps source positions, refusing hostile input.
//
// The `yaml` library costs about 0.15 ms of CPU per line here (2 s for a 10,000-stage
// pipeline), so a workspace keeps a parse cache: the plain value of each pipeline file, keyed by
// the hash of its text. An unchanged file is read back with JSON.parse, and the YAML parser is
// not even loaded unless a source position is needed (an error to report); then the same text
// is reparsed with positions. The cache only ever holds text that parsed cleanly.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { writeCacheFile } from '../cache/atomic-write.js';
import type { Document, Node } from 'yaml';
import { UserError, type SourceLocation } from '../errors.js';

/** Pipelines are hand-written: anything this large is a mistake or an attack. */
export const MAX_PIPELINE_BYTES = 4 * 1024 * 1024;
/** yaml's guard against alias bombs ("billion laughs"). */
const MAX_ALIAS_COUNT = 100;
/** Bump when what the parse cache stores changes meaning (2: YAML merge keys are merged). */
const PARSE_CACHE_FORMAT = 2;

type YamlModule = typeof import('yaml');
let yamlModule: YamlModule | undefined;
const requireHere = createRequire(import.meta.url);
/** The `yaml` library, loaded on first use (loading it alone costs ~0.1 s of startup). */
export function yamlLibrary(): YamlModule {
  return (yamlModule ??= requireHere('yaml') as YamlModule);
}

export type PathSegment = string | number;

export interface SourceDocument {
  file: string;
  /** The document with positions (parsed on first use when the value came from the parse cache). */
  readonly doc: Document.Parsed;
  /** The plain JS value of the document. */
  value: unknown;
  /** file:line:column of the node at a path (or of its closest existing ancestor). */
  locate(path: readonly PathSegment[], which?: 'key' | 'value'): SourceLocation;
  /** Facts remembered about this exact text by an earlier load (e.g. the schema it passed). */
  readonly memo: Readonly<Record<string, string>>;
  /** Store the value and these facts in the parse cache (nothing without a cache). */
  remember(facts: Record<string, string>): void;
}

export interface SourceOptions {
  /** Folder of the parse cache (e.g. `.fisherflow/parsed`); none: always parse. */
  cacheDir?: string;
}

/**
 * The text of a pipeline or params file, or a UserError that says what is wrong with the path
 * (missing, a folder, unreadable, too large) — never a raw EISDIR/EACCES.
 */
export function readInputText(file: string, label = file): string {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw readError(e, label);
  }
  if (st.isDirectory()) {
    const inside = ['fisherflow.yaml', 'fisherflow.yml'].find((n) => existsSync(join(file, n)));
    throw new UserError(`${label} is a folder, not a pipeline or params file`, undefined, inside ? `did you mean ${join(label, inside)}?` : undefined);
  }
  if (!st.isFile()) throw new UserError(`${label} is not a regular file`);
  if (st.size > MAX_PIPELINE_BYTES) {
    throw new UserError(`${label} is ${(st.size / 1048576).toFixed(1)} MB; a pipeline or params file may be at most ${MAX_PIPELINE_BYTES / 1048576} MB`);
  }
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw readError(e, label);
  }
}

function readError(e: unknown, label: string): UserError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new UserError(`file not found: ${label}`);
  if (code === 'EACCES' || code === 'EPERM') return new UserError(`cannot read ${label}: permission denied`);
  if (code === 'EISDIR') return new UserError(`${label} is a folder, not a pipeline or params file`);
  return new UserError(`cannot read ${label}: ${(e as Error).message}`);
}

export function readSourceDocument(file: string, label = file, opts: SourceOptions = {}): SourceDocument {
  const text = readInputText(file, label);
  const cache = opts.cacheDir ? new ParseCache(opts.cacheDir, resolve(file), text) : undefined;
  const hit = cache?.read();
  if (hit) return lazyDocument(text, label, hit.value, hit.memo, cache);
  const parsed = parseSourceDocument(text, label);
  if (!cache) return parsed;
  return lazyDocument(text, label, parsed.value, {}, cache, parsed);
}

/** A document whose positions come from a reparse on first use. */
function lazyDocument(text: string, file: string, value: unknown, memo: Record<string, string>, cache: ParseCache | undefined, parsed?: SourceDocument): SourceDocument {
  let full = parsed;
  const positions = () => (full ??= parseSourceDocument(text, file));
  return {
    file,
    value,
    get doc() {
      return positions().doc;
    },
    locate: (path, which) => positions().locate(path, which),
    memo,
    remember(facts) {
      if (Object.entries(facts).every(([k, v]) => memo[k] === v)) return;
      Object.assign(memo, facts);
      cache?.write(value, memo);
    },
  };
}

interface ParseCacheEntry {
  format: number;
  yaml: string;
  text: string;
  memo: Record<string, string>;
  value: unknown;
}

/** One file per pipeline path; stale when the text, the yaml version or the format differs. */
class ParseCache {
  private readonly path: string;
  private readonly textHash: string;
  constructor(dir: string, source: string, text: string) {
    this.path = join(dir, `${createHash('sha256').update(source).digest('hex').slice(0, 32)}.json`);
    this.textHash = createHash('sha256').update(text).digest('hex');
  }

  private static yamlVersion(): string {
    return (requireHere('yaml/package.json') as { version: string }).version;
  }

  read(): { value: unknown; memo: Record<string, string> } | undefined {
    let entry: ParseCacheEntry;
    try {
      entry = JSON.parse(readFileSync(this.path, 'utf8')) as ParseCacheEntry;
    } catch {
      return undefined;
    }
    if (!entry || entry.format !== PARSE_CACHE_FORMAT || entry.text !== this.textHash || entry.yaml !== ParseCache.yamlVersion()) return undefined;
    if (!entry.memo || typeof entry.memo !== 'object') return undefined;
    return { value: entry.value, memo: entry.memo };
  }

  write(value: unknown, memo: Record<string, string>): void {
    // JSON cannot carry .inf, .nan or -0: such a document is simply parsed every time.
    if (!jsonExact(value)) return;
    const entry: ParseCacheEntry = { format: PARSE_CACHE_FORMAT, yaml: ParseCache.yamlVersion(), text: this.textHash, memo, value };
    // A read-only workspace or a full disk just goes without the cache.
    writeCacheFile(this.path, JSON.stringify(entry));
  }
}

/** Does JSON.parse(JSON.stringify(v)) give back an equal value? */
function jsonExact(v: unknown): boolean {
  const stack: unknown[] = [v];
  while (stack.length) {
    const x = stack.pop();
    if (typeof x === 'number') {
      if (!Number.isFinite(x) || Object.is(x, -0)) return false;
    } else if (Array.isArray(x)) {
      for (const y of x) stack.push(y);
    } else if (x !== null && typeof x === 'object') {
      if (Object.getPrototypeOf(x) !== Object.prototype) return false;
      for (const y of Object.values(x)) stack.push(y);
    } else if (typeof x !== 'string' && typeof x !== 'boolean' && x !== null) return false;
  }
  return true;
}

export function parseSourceDocument(text: string, file: string): SourceDocument {
  if (text.length > MAX_PIPELINE_BYTES) {
    throw new UserError(`${file} is larger than ${MAX_PIPELINE_BYTES / 1048576} MB; refusing to parse it`);
  }
  const { LineCounter, parseDocument, isMap, isSeq, isScalar, isAlias } = yamlLibrary();
  const lineCounter = new LineCounter();
  // merge: YAML's `<<: *defaults` merge keys (YAML 1.1, which DVC pipelines and most others use).
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, strict: true, merge: true });
  const at = (offset: number): SourceLocation => {
    const p = lineCounter.linePos(offset);
    return { file, line: p.line, column: p.col };
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new UserError(`YAML syntax error: ${firstLine(e.message)}`, at(e.pos[0]), undefined);
  }
  rejectDangerousKeys(doc.contents as Node | null, file, at);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const msg = (err as Error).message;
    throw new UserError(`refusing this YAML: ${firstLine(msg)} (at most ${MAX_ALIAS_COUNT} alias expansions are allowed)`, { file, line: 1, column: 1 });
  }
  const locate = (path: readonly PathSegment[], which: 'key' | 'value' = 'value'): SourceLocation => {
    let node: unknown = doc.contents;
    type Ranged = { range?: [number, number, number] | null };
    let best: Ranged | undefined = node as Ranged;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      if (isAlias(node)) node = node.resolve(doc);
      if (isMap(node)) {
        const pair = findPair(node, String(seg), doc);
        if (!pair) break;
        const last = i === path.length - 1;
        if (last && which === 'key' && isScalar(pair.key)) {
          best = pair.key as Ranged;
          node = undefined;
          break;
        }
        node = pair.value;
        best = (pair.value ?? pair.key) as Ranged;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        if (!node) break;
        best = node as Ranged;
      } else break;
    }
    const range = best?.range;
    return range ? at(range[0]) : { file, line: 1, column: 1 };
  };
  return { file, doc, value, locate, memo: {}, remember: () => {} };
}

type YamlPair = { key: unknown; value: unknown };

/** The pair for `key` in a map, also when it comes in through a `<<: *anchor` merge. */
function findPair(map: { items: YamlPair[] }, key: string, doc: Document.Parsed, depth = 0): YamlPair | undefined {
  const { isScalar, isAlias, isMap, isSeq } = yamlLibrary();
  const own = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
  if (own || depth > 8) return own;
  for (const p of map.items) {
    if (!isScalar(p.key) || p.key.value !== '<<') continue;
    const sources = isSeq(p.value) ? p.value.items : [p.value];
    for (let src of sources) {
      if (isAlias(src)) src = src.resolve(doc);
      const found = isMap(src) ? findPair(src as { items: YamlPair[] }, key, doc, depth + 1) : undefined;
      if (found) return found;
    }
  }
  return undefined;
}

function firstLine(s: string): string {
  return s.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

function rejectDangerousKeys(node: Node | null | undefined, file: string, at: (o: number) => SourceLocation): void {
  const { isMap, isSeq, isScalar, isPair } = yamlLibrary();
  const stack: unknown[] = [node];
  while (stack.length) {
    const n = stack.pop();
    if (isMap(n)) {
      // Duplicate keys are checked here with a Set: yaml's own check is quadratic in map size.
      const seen = new Set<string>();
      for (const p of n.items) {
        if (!isPair(p)) continue;
        if (isScalar(p.key)) {
          const k = String(p.key.value);
          if (seen.has(k)) throw new UserError(`duplicate key '${k}'`, p.key.range ? at(p.key.range[0]) : { file, line: 1, column: 1 });
          seen.add(k);
        }
        if (isScalar(p.key) && ['__proto__', 'constructor', 'prototype'].includes(String(p.key.value))) {
          throw new UserError(`the key '${String(p.key.value)}' is not allowed (it could alter object prototypes)`, p.key.range ? at(p.key.range[0]) : { file, line: 1, column: 1 });
        }
        if (p.key && !isScalar(p.key)) {
          const k = p.key as Node;
          throw new UserError('keys must be plain scalars', k.range ? at(k.range[0]) : { file, line: 1, column: 1 });
        }
        stack.push(p.value);
      }
    } else if (isSeq(n)) {
      for (const it of n.items) stack.push(it);
    }
  }
}
