// `${{ expression }}` templates.
//
// Expressions are paths: `params.a.b`, `item`, `item.field`, `key`, `stages.NAME.outputs.KEY`,
// with `[...]` for computed or quoted segments: `stages.train[item].outputs.model`,
// `stages['train@0.1'].outputs.model`. Indexing a foreach/matrix family with a value selects the
// member `NAME@VALUE` (several brackets on a matrix family join with ',').
//
// Numbers can be combined with `+ - * /` written with spaces around them (`${{ 1 - item }}`,
// `${{ params.epochs * 2 }}`): names may contain '-', so an operator needs the spaces.
//
// A string that is exactly one template keeps the value's type (number, list, map); a template
// inside a longer string is interpolated. References to stage outputs become opaque placeholders
// (see `artifactPlaceholder`) that the planner replaces by content hashes (for keys) and the
// executor by paths (for running).
//
// In a shell command (`run:`) a value is data, never code: `renderCommand` substitutes each
// template as text quoted for where it stands (one word outside quotes, escaped inside "..." or
// '...'), lists and families as several words; `${{ x | raw }}` opts out and pastes the text.

export type TemplateSegment = { kind: 'name'; value: string } | { kind: 'expr'; expr: TemplateExpr } | { kind: 'literal'; value: string };
export interface TemplateExpr {
  text: string;
  segments: TemplateSegment[];
}

const TEMPLATE_RE = /\$\{\{([\s\S]*?)\}\}/g;

export class TemplateSyntaxError extends Error {}

export function hasTemplate(s: string): boolean {
  return s.includes('${{');
}

/** Whether a string anywhere inside a JSON-like value holds a template. */
export function containsTemplate(value: unknown): boolean {
  if (typeof value === 'string') return hasTemplate(value);
  if (Array.isArray(value)) return value.some(containsTemplate);
  if (value !== null && typeof value === 'object') return Object.values(value).some(containsTemplate);
  return false;
}

export function parseExpression(text: string): TemplateExpr {
  const src = text.trim();
  let i = 0;
  const segments: TemplateSegment[] = [];
  const name = (): string => {
    const m = /^[A-Za-z0-9_@,=+-]+/.exec(src.slice(i));
    if (!m) throw new TemplateSyntaxError(`expected a name at position ${i + 1} of '${src}'`);
    i += m[0].length;
    return m[0];
  };
  segments.push({ kind: 'name', value: name() });
  while (i < src.length) {
    const c = src[i];
    if (c === '.') {
      i++;
      segments.push({ kind: 'name', value: name() });
    } else if (c === '[') {
      i++;
      while (src[i] === ' ') i++;
      const q = src[i];
      if (q === '"' || q === "'") {
        const end = src.indexOf(q, i + 1);
        if (end < 0) throw new TemplateSyntaxError(`unterminated string in '${src}'`);
        segments.push({ kind: 'literal', value: src.slice(i + 1, end) });
        i = end + 1;
      } else {
        let depth = 1;
        const start = i;
        while (i < src.length && depth > 0) {
          if (src[i] === '[') depth++;
          else if (src[i] === ']') depth--;
          if (depth > 0) i++;
        }
        if (depth !== 0) throw new TemplateSyntaxError(`missing ']' in '${src}'`);
        segments.push({ kind: 'expr', expr: parseExpression(src.slice(start, i)) });
      }
      while (src[i] === ' ') i++;
      if (src[i] !== ']') throw new TemplateSyntaxError(`missing ']' in '${src}'`);
      i++;
    } else {
      throw new TemplateSyntaxError(`unexpected '${c}' at position ${i + 1} of '${src}'`);
    }
  }
  return { text: src, segments };
}

/** The inside of `${{ ... }}`: its text, and whether the filter `| raw` follows it. */
export function splitFilter(inner: string): { text: string; raw: boolean } {
  const bar = /\|\s*([A-Za-z]*)\s*$/.exec(inner);
  if (!bar) return { text: inner, raw: false };
  if (bar[1] !== 'raw') throw new TemplateSyntaxError(`unknown filter '${bar[1]}' in '${inner.trim()}'; the only filter is '| raw' (in run:)`);
  return { text: inner.slice(0, bar.index), raw: true };
}

export type Evaluate = (expr: TemplateExpr) => unknown;

const OPERATOR_RE = /\s+([-+*/])\s+/;
const NUMBER_RE = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/**
 * One template's text: a path (see parseExpression), or operands (numbers and paths) joined by
 * + - * / with spaces around each operator, evaluated left to right with * and / first, the
 * result rounded to 15 significant digits. Every path in it must evaluate to a number.
 */
export function evaluateTemplate(text: string, evaluate: Evaluate): unknown {
  const src = text.trim();
  const parts = src.split(OPERATOR_RE);
  if (parts.length === 1) return evaluate(parseExpression(src));
  const operand = (t: string): number => {
    if (NUMBER_RE.test(t)) return Number(t);
    if (t === '') throw new TemplateSyntaxError(`'${src}': an operator needs a value on each side`);
    const v = evaluate(parseExpression(t));
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new TemplateSyntaxError(`'${src}': '${t}' is ${JSON.stringify(v) ?? String(v)}, not a number; + - * / need numbers`);
    }
    return v;
  };
  // parts alternate operand, operator, operand, ...: fold * and / into terms, then + and -.
  const terms: number[] = [operand(parts[0]!)];
  const signs: string[] = [];
  for (let i = 1; i < parts.length; i += 2) {
    const op = parts[i]!;
    const v = operand(parts[i + 1] ?? '');
    const last = terms.length - 1;
    if (op === '*') terms[last] = terms[last]! * v;
    else if (op === '/') {
      if (v === 0) throw new TemplateSyntaxError(`'${src}': division by zero`);
      terms[last] = terms[last]! / v;
    } else {
      signs.push(op);
      terms.push(v);
    }
  }
  const result = terms.slice(1).reduce((acc, v, i) => (signs[i] === '+' ? acc + v : acc - v), terms[0]!);
  // 15 significant digits, so that 1 - 0.7 reads 0.3 (not 0.30000000000000004) in names and inputs.
  return Number(result.toPrecision(15));
}

/** A template's text outside run:, where `| raw` has no meaning. */
function plainText(inner: string): string {
  const { text, raw } = splitFilter(inner);
  if (raw) throw new TemplateSyntaxError(`'| raw' only applies in run: (shell text); here '${text.trim()}' is a value already`);
  return text;
}

/** Substitute every template in a string. */
export function renderString(s: string, evaluate: Evaluate): unknown {
  if (!s.includes('${{')) return s;
  const matches = [...s.matchAll(TEMPLATE_RE)];
  if (matches.length === 0) return s;
  if (matches.length === 1 && matches[0][0] === s.trim() && s.trim() === s) {
    return evaluateTemplate(plainText(matches[0][1]), evaluate);
  }
  return s.replace(TEMPLATE_RE, (_m, inner: string) => {
    const v = evaluateTemplate(plainText(inner), evaluate);
    if (v !== null && typeof v === 'object') {
      throw new TemplateSyntaxError(`'${inner.trim()}' is a ${Array.isArray(v) ? 'list' : 'map'}; it can only be used as a whole value, not inside a string`);
    }
    return String(v);
  });
}

/** Render every string inside a JSON-like value; `onPath` receives the path of each rendered string (for error locations). */
export function renderValue(value: unknown, evaluate: (expr: TemplateExpr, path: (string | number)[]) => unknown, path: (string | number)[] = []): unknown {
  if (typeof value === 'string') return value.includes('${{') ? renderString(value, (e) => evaluate(e, path)) : value;
  // Plain strings are returned as they are, without building their path (most strings have no template).
  const plain = (v: unknown) => typeof v === 'string' && !v.includes('${{');
  if (Array.isArray(value)) return value.map((v, i) => (plain(v) ? v : renderValue(v, evaluate, [...path, i])));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // A key may be a template too (`"${{ item }},dev": ...`); it renders to a string.
      const key = k.includes('${{') ? templatedKey(k, (e) => evaluate(e, [...path, k])) : k;
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new TemplateSyntaxError(`the key '${k}' renders to '${key}', which the map already has`);
      out[key] = plain(v) ? v : renderValue(v, evaluate, [...path, k]);
    }
    return out;
  }
  return value;
}

function templatedKey(k: string, evaluate: Evaluate): string {
  const v = renderString(k, evaluate);
  if (v === null || typeof v === 'object') throw new TemplateSyntaxError(`the key '${k}' renders to ${JSON.stringify(v)}; a key must be text or a number`);
  if (String(v).includes(PH_OPEN)) throw new TemplateSyntaxError(`the key '${k}' names a stage output; only values can`);
  if (['__proto__', 'constructor', 'prototype'].includes(String(v))) throw new TemplateSyntaxError(`the key '${k}' renders to '${String(v)}', which is not allowed`);
  return String(v);
}

// Placeholders for artifact references: control characters cannot appear in YAML plain text,
// so they never collide with user strings. In a command a placeholder also carries how its path
// must be quoted where it stands (see QuoteMode).
const PH_OPEN = '\u0001ff:';
const PH_CLOSE = '\u0002';
const PH_RE = /\u0001ff:([^\u0002]*)\u0002/g;

export interface ArtifactRef {
  stage: string;
  output: string;
}

export function artifactPlaceholder(ref: ArtifactRef, quote?: QuoteMode): string {
  return `${PH_OPEN}${ref.stage}\u0003${ref.output}${quote ? `\u0003${quote}` : ''}${PH_CLOSE}`;
}

function parsePlaceholder(inner: string): { ref: ArtifactRef; quote?: QuoteMode } {
  const [stage, output, quote] = inner.split('\u0003');
  return { ref: { stage, output }, quote: quote as QuoteMode | undefined };
}

export function findArtifactRefs(value: unknown, out: ArtifactRef[] = []): ArtifactRef[] {
  if (typeof value === 'string') {
    if (!value.includes(PH_OPEN)) return out;
    for (const m of value.matchAll(PH_RE)) out.push(parsePlaceholder(m[1]).ref);
  } else if (Array.isArray(value)) value.forEach((v) => findArtifactRefs(v, out));
  else if (value !== null && typeof value === 'object') Object.values(value).forEach((v) => findArtifactRefs(v, out));
  return out;
}

/** Is this string exactly one artifact placeholder? */
export function isArtifactPlaceholder(s: string): boolean {
  return s.startsWith(PH_OPEN) && s.endsWith(PH_CLOSE) && s.indexOf(PH_CLOSE) === s.length - 1;
}

/** Replace each placeholder by `replace(ref)`; a string that is exactly one placeholder keeps the replacement's type. */
export function substituteArtifactRefs(value: unknown, replace: (ref: ArtifactRef) => string): unknown {
  if (typeof value === 'string') {
    if (!value.includes(PH_OPEN)) return value;
    return value.replace(PH_RE, (_m, inner: string) => replace(parsePlaceholder(inner).ref));
  }
  if (Array.isArray(value)) return value.map((v) => substituteArtifactRefs(v, replace));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteArtifactRefs(v, replace);
    return out;
  }
  return value;
}

/** A command with each placeholder replaced by `path(ref)`, quoted as its place in the command asks. */
export function substituteCommandRefs(command: string, path: (ref: ArtifactRef) => string): string {
  if (!command.includes(PH_OPEN)) return command;
  return command.replace(PH_RE, (_m, inner: string) => {
    const { ref, quote } = parsePlaceholder(inner);
    return shellText(path(ref), quote ?? 'raw');
  });
}

/**
 * Where a substituted value stands in a shell command: a bare word, inside '...', inside "...",
 * or pasted as shell text (`| raw`).
 */
export type QuoteMode = 'word' | 'single' | 'double' | 'raw';

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,.\/-]+$/;

/** `s` as shell text that reads back as exactly `s` at a place of the given kind. */
export function shellText(s: string, mode: QuoteMode): string {
  switch (mode) {
    case 'raw':
      return s;
    case 'word':
      // Like Python's shlex.quote: plain words stay as they are, everything else is single-quoted.
      return SAFE_WORD.test(s) ? s : `'${s.replace(/'/g, `'"'"'`)}'`;
    case 'single':
      return s.replace(/'/g, `'"'"'`);
    case 'double':
      return s.replace(/[\\"$`]/g, (c) => `\\${c}`);
  }
}

/**
 * Render a shell command: each template becomes shell text that stands for its value exactly.
 * A list, or a map (a foreach family's outputs), becomes its values as separate words. An
 * artifact reference stays a placeholder that remembers its quoting, resolved to a path later.
 */
export function renderCommand(s: string, evaluate: Evaluate): string {
  if (!s.includes('${{')) return s;
  let out = '';
  let last = 0;
  let state: 'word' | 'single' | 'double' = 'word';
  // Quoting state of the text between templates (templates themselves are opaque).
  const scan = (text: string) => {
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (state === 'single') {
        if (c === "'") state = 'word';
      } else if (c === '\\') i++;
      else if (state === 'double') {
        if (c === '"') state = 'word';
      } else if (c === "'") state = 'single';
      else if (c === '"') state = 'double';
    }
  };
  for (const m of s.matchAll(TEMPLATE_RE)) {
    const before = s.slice(last, m.index);
    scan(before);
    out += before;
    last = m.index! + m[0].length;
    const { text: exprText, raw } = splitFilter(m[1]);
    const mode: QuoteMode = raw ? 'raw' : state;
    const v = evaluateTemplate(exprText, evaluate);
    const words = v !== null && typeof v === 'object' ? Object.values(v as object) : [v];
    out += words
      .map((w) => {
        if (w !== null && typeof w === 'object') throw new TemplateSyntaxError(`'${exprText.trim()}' holds a nested ${Array.isArray(w) ? 'list' : 'map'}; a command can take a value, a list of values or a family's outputs`);
        const text = String(w);
        if (isArtifactPlaceholder(text)) return artifactPlaceholder(parsePlaceholder(text.slice(PH_OPEN.length, -1)).ref, mode);
        return shellText(text, mode);
      })
      .join(' ');
  }
  return out + s.slice(last);
}

/** The user-facing spelling of a reference, for lock files and messages. */
export function describeRef(ref: ArtifactRef): string {
  return `stages.${ref.stage}.outputs.${ref.output}`;
}
