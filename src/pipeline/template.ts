// `${{ expression }}` templates.
//
// Expressions are paths: `params.a.b`, `item`, `item.field`, `key`, `stages.NAME.outputs.KEY`,
// with `[...]` for computed or quoted segments: `stages.train[item].outputs.model`,
// `stages['train@0.1'].outputs.model`. Indexing a foreach/matrix family with a value selects the
// member `NAME@VALUE` (several brackets on a matrix family join with ',').
//
// A string that is exactly one template keeps the value's type (number, list, map); a template
// inside a longer string is interpolated. References to stage outputs become opaque placeholders
// (see `artifactPlaceholder`) that the planner replaces by content hashes (for keys) and the
// executor by paths (for running).

export type TemplateSegment = { kind: 'name'; value: string } | { kind: 'expr'; expr: TemplateExpr } | { kind: 'literal'; value: string };
export interface TemplateExpr {
  text: string;
  segments: TemplateSegment[];
  /** `${{ x | raw }}`: pasted into a command as shell text, unquoted. */
  raw?: boolean;
}

const TEMPLATE_RE = /\$\{\{([\s\S]*?)\}\}/g;

export class TemplateSyntaxError extends Error {}

export function hasTemplate(s: string): boolean {
  return s.includes('${{');
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

/** The inside of `${{ ... }}`: an expression, optionally followed by the filter `| raw`. */
export function parseTemplate(inner: string): TemplateExpr {
  const bar = /\|\s*([A-Za-z]*)\s*$/.exec(inner);
  if (!bar) return parseExpression(inner);
  if (bar[1] !== 'raw') throw new TemplateSyntaxError(`unknown filter '${bar[1]}' in '${inner.trim()}'; the only filter is '| raw' (in run:)`);
  return { ...parseExpression(inner.slice(0, bar.index)), raw: true };
}

export type Evaluate = (expr: TemplateExpr) => unknown;

/** Substitute every template in a string. */
export function renderString(s: string, evaluate: Evaluate): unknown {
  if (!s.includes('${{')) return s;
  const matches = [...s.matchAll(TEMPLATE_RE)];
  if (matches.length === 0) return s;
  if (matches.length === 1 && matches[0][0] === s.trim() && s.trim() === s) {
    return evaluate(parseTemplate(matches[0][1]));
  }
  return s.replace(TEMPLATE_RE, (_m, inner: string) => {
    const v = evaluate(parseTemplate(inner));
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
    for (const [k, v] of Object.entries(value)) out[k] = plain(v) ? v : renderValue(v, evaluate, [...path, k]);
    return out;
  }
  return value;
}

// Placeholders for artifact references: control characters cannot appear in YAML plain text,
// so they never collide with user strings.
const PH_OPEN = '\u0001ff:';
const PH_CLOSE = '\u0002';
const PH_RE = /\u0001ff:([^\u0002]*)\u0002/g;

export interface ArtifactRef {
  stage: string;
  output: string;
}

export function artifactPlaceholder(ref: ArtifactRef): string {
  return `${PH_OPEN}${ref.stage}\u0003${ref.output}${PH_CLOSE}`;
}

export function findArtifactRefs(value: unknown, out: ArtifactRef[] = []): ArtifactRef[] {
  if (typeof value === 'string') {
    if (!value.includes(PH_OPEN)) return out;
    for (const m of value.matchAll(PH_RE)) {
      const [stage, output] = m[1].split('\u0003');
      out.push({ stage, output });
    }
  } else if (Array.isArray(value)) value.forEach((v) => findArtifactRefs(v, out));
  else if (value !== null && typeof value === 'object') Object.values(value).forEach((v) => findArtifactRefs(v, out));
  return out;
}

/** Replace each placeholder by `replace(ref)`; a string that is exactly one placeholder keeps the replacement's type. */
export function substituteArtifactRefs(value: unknown, replace: (ref: ArtifactRef) => string): unknown {
  if (typeof value === 'string') {
    if (!value.includes(PH_OPEN)) return value;
    return value.replace(PH_RE, (_m, inner: string) => {
      const [stage, output] = inner.split('\u0003');
      return replace({ stage, output });
    });
  }
  if (Array.isArray(value)) return value.map((v) => substituteArtifactRefs(v, replace));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteArtifactRefs(v, replace);
    return out;
  }
  return value;
}

/** The user-facing spelling of a reference, for lock files and messages. */
export function describeRef(ref: ArtifactRef): string {
  return `stages.${ref.stage}.outputs.${ref.output}`;
}
