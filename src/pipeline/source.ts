// Parse a YAML file into a document that keeps source positions, refusing hostile input.
import { readFileSync, statSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, isPair, isAlias, type Document, type Node } from 'yaml';
import { UserError, type SourceLocation } from './errors.js';

/** Pipelines are hand-written: anything this large is a mistake or an attack. */
export const MAX_PIPELINE_BYTES = 4 * 1024 * 1024;
/** yaml's guard against alias bombs ("billion laughs"). */
const MAX_ALIAS_COUNT = 100;

export type PathSegment = string | number;

export interface SourceDocument {
  file: string;
  doc: Document.Parsed;
  /** The plain JS value of the document. */
  value: unknown;
  /** file:line:column of the node at a path (or of its closest existing ancestor). */
  locate(path: readonly PathSegment[], which?: 'key' | 'value'): SourceLocation;
}

export function readSourceDocument(file: string, label = file): SourceDocument {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new UserError(`file not found: ${label}`);
  }
  if (size > MAX_PIPELINE_BYTES) {
    throw new UserError(`${label} is ${(size / 1048576).toFixed(1)} MB; a pipeline or params file may be at most ${MAX_PIPELINE_BYTES / 1048576} MB`);
  }
  return parseSourceDocument(readFileSync(file, 'utf8'), label);
}

export function parseSourceDocument(text: string, file: string): SourceDocument {
  if (text.length > MAX_PIPELINE_BYTES) {
    throw new UserError(`${file} is larger than ${MAX_PIPELINE_BYTES / 1048576} MB; refusing to parse it`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, strict: true });
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
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
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
  return { file, doc, value, locate };
}

function firstLine(s: string): string {
  return s.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

function rejectDangerousKeys(node: Node | null | undefined, file: string, at: (o: number) => SourceLocation): void {
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
