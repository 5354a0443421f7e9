// `fisherflow import dvc`: a dvc.yaml as the equivalent fisherflow pipeline. Anchors and merge
// keys are expanded (the YAML is read as data), `${x}` interpolation becomes `${{ params.x }}`,
// `${{ vars.x }}`, `${{ item.x }}` or `${{ key }}`, foreach/do becomes foreach with the stage
// body, params lists and files, outs flags, metrics and plots (stage and top-level) go to the
// stage that writes them. Whatever has no fisherflow equivalent is reported, never dropped
// silently.
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { UserError } from '../errors.js';
import { variantLabel } from '../pipeline/load.js';
import { getDotted, type Params } from '../pipeline/params.js';
import { DEFAULT_PARAMS_FILE } from '../pipeline/params-files.js';
import { parseSourceDocument } from '../pipeline/source.js';
import { quoteStates, type QuoteState } from './shell-quotes.js';

export interface ImportResult {
  /** The fisherflow pipeline as data, in the order it is written. */
  pipeline: Record<string, unknown>;
  /** Constructs not carried over (or carried over approximately), one line each. */
  notes: string[];
}

type Raw = Record<string, unknown>;

const isMap = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

/** DVC plot templates → fisherflow's (and whether the mapping is exact). */
const TEMPLATES: Record<string, [string, boolean]> = {
  linear: ['line', true],
  simple: ['line', true],
  smooth: ['line', false],
  scatter: ['scatter', true],
  scatter_jitter: ['scatter', false],
  confusion: ['confusion', true],
  confusion_normalized: ['confusion', false],
  bar_horizontal: ['bar', false],
  bar_horizontal_sorted: ['bar', false],
};

/** What `${name}` means in DVC: a params file value, a var, or the foreach/matrix item or key. */
interface Context {
  params: Params;
  vars: Raw;
  stageVars?: Raw;
  /** Every value `item` (and `key`) takes in the stage, to choose how a command quotes it. */
  items?: unknown[];
  keys?: string[];
}

/** A shell word that reads as itself without quoting (as Python's shlex.quote leaves it). */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function convertDvc(dvcFile: string, notes: string[] = []): ImportResult {
  const dir = posix.dirname(dvcFile.split('\\').join('/'));
  const label = dvcFile;
  let text: string;
  try {
    text = readFileSync(dvcFile, 'utf8');
  } catch {
    throw new UserError(`file not found: ${dvcFile}`);
  }
  const doc = parseSourceDocument(text, label).value;
  if (!isMap(doc) || !isMap(doc.stages)) throw new UserError(`${label} has no \`stages:\` map; is it a dvc.yaml?`, { file: label, line: 1, column: 1 });

  const paramsFiles: string[] = [];
  /** Each params file's values, as DVC reads them (params.yaml always, when present). */
  const fileValues = new Map<string, Params>();
  const readParams = (name: string): Params | undefined => {
    if (!fileValues.has(name)) {
      const p = join(dir, name);
      if (!existsSync(p)) return undefined;
      const v = parseSourceDocument(readFileSync(p, 'utf8'), p).value;
      fileValues.set(name, isMap(v) ? v : {});
    }
    return fileValues.get(name);
  };
  const params: Params = { ...(readParams(DEFAULT_PARAMS_FILE) ?? {}) };
  const addParamsFile = (name: string, why: string): Params => {
    if (name === DEFAULT_PARAMS_FILE || paramsFiles.includes(name)) return readParams(name) ?? {};
    const values = readParams(name);
    if (values === undefined) notes.push(`${why}: params file ${name} does not exist; fisherflow will refuse the pipeline until it does`);
    else for (const [k, v] of Object.entries(values)) if (!(k in params)) params[k] = v;
    paramsFiles.push(name);
    return values ?? {};
  };

  // Top-level vars: maps are fisherflow vars; files are read as params files (values for `${}`).
  const vars: Raw = {};
  const readVars = (list: unknown, where: string, into: Raw) => {
    for (const v of Array.isArray(list) ? list : [list]) {
      if (isMap(v)) Object.assign(into, v);
      else if (typeof v === 'string') {
        const [file, keys] = v.split(':');
        addParamsFile(file, `${where}: vars file ${v}`);
        notes.push(`${where}: vars file ${v} became a params file (params_files:), so its values are params: --set, diff and exp see them${keys ? `; fisherflow reads the whole file, not only ${keys}` : ''}`);
      }
    }
  };
  if (doc.vars !== undefined) readVars(doc.vars, 'vars', vars);

  const stages: Raw = {};
  const stageOf = new Map<string, Raw>();
  for (const [name, raw] of Object.entries(doc.stages)) {
    if (!isMap(raw)) {
      notes.push(`stage ${name}: not a map; left out`);
      continue;
    }
    const st = convertStage(name, raw, { params, vars }, addParamsFile, readVars, notes);
    stages[name] = st;
    stageOf.set(name, st);
  }

  attachTopLevel(doc, stageOf, notes);
  for (const key of Object.keys(doc)) {
    if (['stages', 'vars', 'metrics', 'plots'].includes(key)) continue;
    notes.push(key === 'artifacts' || key === 'datasets' ? `top-level ${key}: (DVC's model and data registry) has no fisherflow equivalent; not carried over` : `top-level key '${key}' not carried over`);
  }

  const pipeline: Record<string, unknown> = {};
  if (paramsFiles.length) pipeline.params_files = paramsFiles;
  if (Object.keys(vars).length) pipeline.vars = vars;
  pipeline.stages = stages;
  return { pipeline, notes };
}

function convertStage(name: string, raw: Raw, ctx: Context, addParamsFile: (file: string, why: string) => Params, readVars: (list: unknown, where: string, into: Raw) => void, notes: string[]): Raw {
  const where = `stage ${name}`;
  const out: Raw = {};
  let body = raw;
  const stageCtx: Context = { ...ctx };

  if (raw.foreach !== undefined) {
    if (!isMap(raw.do)) notes.push(`${where}: foreach without a \`do:\` map`);
    body = { ...(isMap(raw.do) ? raw.do : {}), ...Object.fromEntries(Object.entries(raw).filter(([k]) => k !== 'do' && k !== 'foreach')) };
    const values = interpolatedValue(raw.foreach, ctx);
    if (Array.isArray(values)) {
      // DVC names members of a list of maps by index (NAME@0): a map by index keeps those names.
      const maps = Array.isArray(raw.foreach) && values.some((v) => v !== null && typeof v === 'object');
      out.foreach = maps ? Object.fromEntries(values.map((v, i) => [String(i), v])) : convertStrings(raw.foreach, ctx, where, notes);
      stageCtx.items = values;
      if (maps) stageCtx.keys = values.map((_, i) => String(i));
    } else if (isMap(values)) {
      out.foreach = convertStrings(raw.foreach, ctx, where, notes);
      stageCtx.items = Object.values(values);
      stageCtx.keys = Object.keys(values);
    } else {
      out.foreach = convertStrings(raw.foreach, ctx, where, notes);
    }
  } else if (raw.matrix !== undefined) {
    const axes = interpolatedValue(raw.matrix, ctx);
    if (isMap(axes)) {
      const matrix: Raw = {};
      let combos: Raw[] = [{}];
      for (const [axis, valuesRaw] of Object.entries(axes)) {
        const values = listOf(interpolatedValue(valuesRaw, ctx));
        const labels = values.map(variantLabel);
        // fisherflow names members by value (a map's name field, else its first scalar); where
        // those repeat, name them as DVC does: AXIS0, AXIS1, ...
        const distinct = new Set(labels).size === labels.length;
        matrix[axis] = distinct ? convertStrings(raw.matrix && isMap(raw.matrix) ? raw.matrix[axis] : valuesRaw, ctx, where, notes) : Object.fromEntries(values.map((v, i) => [`${axis}${i}`, v]));
        if (!distinct) notes.push(`${where}: matrix axis '${axis}' holds maps without distinct names; its members are named ${axis}0, ${axis}1, ... as in DVC`);
        combos = combos.flatMap((c) => values.map((v) => ({ ...c, [axis]: v })));
      }
      out.matrix = matrix;
      stageCtx.items = combos;
    } else out.matrix = convertStrings(raw.matrix, ctx, where, notes);
  }
  if (isMap(body.vars) || Array.isArray(body.vars)) {
    const local: Raw = {};
    readVars(body.vars, `${where} vars`, local);
    out.vars = local;
    stageCtx.stageVars = local;
  }
  if (typeof body.desc === 'string') out.description = body.desc;

  const wdir = typeof body.wdir === 'string' && body.wdir !== '.' ? body.wdir.replace(/\/+$/, '') : undefined;
  const inWdir = (p: string) => (wdir && !p.startsWith('/') ? posix.normalize(`${wdir}/${p}`) : p);

  if (body.cmd !== undefined) {
    const cmds = Array.isArray(body.cmd) ? body.cmd.map(String) : [String(body.cmd)];
    const run = cmds.map((c) => convertCommand(c, stageCtx, where, notes)).join(' && ');
    out.run = wdir ? `cd ${wdir} && ${run}` : run;
    if (wdir) notes.push(`${where}: wdir ${wdir}: the command starts with 'cd ${wdir} &&' and its paths are relative to the pipeline's folder`);
  } else notes.push(`${where}: no cmd`);

  const deps = listOf(body.deps).filter((d) => {
    if (typeof d === 'string' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(d)) return true;
    notes.push(`${where}: dep ${JSON.stringify(d)} is not a local path; not carried over`);
    return false;
  });
  if (deps.length) out.deps = deps.map((d) => inWdir(convertString(String(d), stageCtx, where, notes)));

  const stageParams: string[] = [];
  for (const p of listOf(body.params)) {
    if (typeof p === 'string') stageParams.push(p);
    else if (isMap(p)) {
      for (const [file, keys] of Object.entries(p)) {
        const values = addParamsFile(inWdir(file), where);
        const list = keys === null || keys === undefined ? Object.keys(values) : listOf(keys).map(String);
        if (keys === null || keys === undefined) notes.push(`${where}: params of the whole file ${file}: listed as its top-level keys (${list.join(', ') || 'none'})`);
        stageParams.push(...list);
      }
    }
  }
  if (stageParams.length) out.params = [...new Set(stageParams)];
  for (const k of out.params as string[] ?? []) if (!getDotted(ctx.params, k).found) notes.push(`${where}: param ${k} is in no params file`);

  const outs: unknown[] = [];
  const metrics: string[] = [];
  const plots: unknown[] = [];
  const addOut = (entry: unknown, kind: 'outs' | 'metrics' | 'plots') => {
    const [path, opts] = typeof entry === 'string' ? [entry, {}] : isMap(entry) ? (Object.entries(entry)[0] ?? ['', {}]) : ['', {}];
    if (!path) return;
    const file = inWdir(convertString(path, stageCtx, where, notes));
    const o = isMap(opts) ? opts : {};
    const flags: Raw = {};
    if (o.persist === true) flags.persist = true;
    if (o.cache === false) flags.cache = false;
    for (const k of Object.keys(o)) if (!['persist', 'cache', 'x', 'y', 'template', 'title', 'x_label', 'y_label'].includes(k)) notes.push(`${where}: ${kind} ${path}: option '${k}' not carried over`);
    if (kind !== 'outs' && Object.keys(flags).length === 0) {
      if (kind === 'metrics') metrics.push(file);
      else plots.push(plotEntry(file, o, where, notes));
      return;
    }
    outs.push(Object.keys(flags).length ? { path: file, ...flags } : file);
    if (kind === 'metrics') metrics.push(file);
    if (kind === 'plots') plots.push(plotEntry(file, o, where, notes));
  };
  for (const o of listOf(body.outs)) addOut(o, 'outs');
  for (const m of listOf(body.metrics)) addOut(m, 'metrics');
  for (const p of listOf(body.plots)) addOut(p, 'plots');
  if (outs.length) out.outs = outs;
  if (metrics.length) out.metrics = metrics;
  if (plots.length) out.plots = plots;

  if (body.always_changed === true) out.always_run = true;
  if (body.frozen === true) out.frozen = true;
  for (const key of Object.keys(body)) {
    if (['cmd', 'deps', 'params', 'outs', 'metrics', 'plots', 'always_changed', 'frozen', 'desc', 'wdir', 'vars', 'foreach', 'do', 'matrix'].includes(key)) continue;
    notes.push(`${where}: key '${key}' has no fisherflow equivalent; not carried over`);
  }
  return out;
}

function listOf(v: unknown): unknown[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}

function plotEntry(file: string | string[], o: Raw, where: string, notes: string[]): unknown {
  const entry: Raw = { file };
  if (typeof o.x === 'string') entry.x = o.x;
  if (typeof o.y === 'string' || Array.isArray(o.y)) entry.y = o.y;
  if (typeof o.template === 'string') {
    const t = TEMPLATES[o.template];
    if (!t) notes.push(`${where}: plot ${file}: template '${o.template}' is not one of fisherflow's (line, scatter, bar, confusion); drawn as a line`);
    else {
      if (t[0] !== 'line') entry.template = t[0];
      if (!t[1]) notes.push(`${where}: plot ${file}: template '${o.template}' drawn as fisherflow's ${t[0]}`);
    }
  }
  for (const k of ['title', 'x_label', 'y_label'] as const) if (typeof o[k] === 'string') entry[k] = o[k];
  return Object.keys(entry).length === 1 ? file : entry;
}

/**
 * Top-level `metrics:` and `plots:` belong, in fisherflow, to the stage that writes the file:
 * the stage with an out that is the file or holds it.
 */
function attachTopLevel(doc: Raw, stages: Map<string, Raw>, notes: string[]): void {
  const ownerOf = (file: string): Raw | undefined => {
    let best: [Raw, number] | undefined;
    for (const st of stages.values()) {
      for (const o of listOf(st.outs)) {
        const p = (typeof o === 'string' ? o : isMap(o) ? String(o.path) : '').replace(/\/+$/, '');
        if ((file === p || file.startsWith(`${p}/`)) && (!best || p.length > best[1])) best = [st, p.length];
      }
      for (const m of listOf(st.metrics)) if (m === file) best = [st, Infinity];
    }
    return best?.[0];
  };
  for (const m of listOf(doc.metrics)) {
    const file = String(m);
    const st = ownerOf(file);
    if (!st) notes.push(`top-level metrics ${file}: no stage writes it; not carried over`);
    else if (!listOf(st.metrics).includes(file)) st.metrics = [...listOf(st.metrics), file];
  }
  for (const p of listOf(doc.plots)) {
    const defs: Array<[string, Raw]> = typeof p === 'string' ? [[p, {}]] : isMap(p) ? Object.entries(p).map(([id, d]) => [id, isMap(d) ? d : {}]) : [];
    for (const [id, d] of defs) {
      // y: a field, fields, or file → field(s); x likewise. Without y the id is the file.
      const files: Array<[string, unknown, unknown]> = isMap(d.y)
        ? Object.entries(d.y).map(([f, field]) => [f, isMap(d.x) ? d.x[f] : d.x, field])
        : [[id, d.x, d.y]];
      const owners = files.map(([file]) => ownerOf(file));
      // Files of one stage with the same fields: one chart, as DVC draws them; else one chart each.
      const together = files.length > 1 && owners.every((o) => o && o === owners[0]) && files.every(([, x, y]) => JSON.stringify([x, y]) === JSON.stringify([files[0][1], files[0][2]]));
      if (files.length > 1 && !together) notes.push(`plot ${id}: its ${files.length} files differ in stage or fields; fisherflow draws one chart per file`);
      const groups: Array<Array<[string, unknown, unknown]>> = together ? [files] : files.map((f) => [f]);
      for (const group of groups) {
        const st = ownerOf(group[0][0]);
        if (!st) {
          notes.push(`plot ${id}: no stage writes ${group[0][0]}; not carried over`);
          continue;
        }
        const [, x, y] = group[0];
        const title = d.title ?? (id !== group[0][0] ? (group.length === files.length ? id : `${id}: ${group[0][0]}`) : undefined);
        const opts: Raw = { ...d, x, y, title };
        for (const k of Object.keys(opts)) if (opts[k] === undefined) delete opts[k];
        st.plots = [...listOf(st.plots), plotEntry(group.length > 1 ? group.map(([f]) => f) : group[0][0], opts, `plot ${id}`, notes)];
      }
    }
  }
}

// ---- interpolation ----

/** `${name}`, or DVC's escaped `\${name}` (group 1), which stays text without its backslash. */
const INTERP_RE = /(\\)?\$\{\s*([^{}]+?)\s*\}/g;

/** The fisherflow expression for a DVC `${name}` (`params.x`, `vars.x`, `item.x`, `key`), or undefined. */
function expressionFor(name: string, ctx: Context): string | undefined {
  const head = name.split(/[.[]/)[0];
  if ((head === 'item' && ctx.items) || (head === 'key' && ctx.keys)) return name;
  if (ctx.stageVars && head in ctx.stageVars) return `vars.${name}`;
  if (head in ctx.vars) return `vars.${name}`;
  if (head in ctx.params) return `params.${name}`;
  return undefined;
}

/** Every value `${name}` takes in this stage (for a command's quoting), or undefined when unknown. */
function valuesOf(name: string, ctx: Context): unknown[] | undefined {
  const path = name.split('.');
  const walk = (root: unknown, rest: string[]) => rest.reduce<unknown>((cur, k) => (cur !== null && typeof cur === 'object' ? (cur as Raw)[k] : undefined), root);
  if (path[0] === 'item') return ctx.items?.map((it) => walk(it, path.slice(1)));
  if (path[0] === 'key') return ctx.keys;
  const vars = { ...ctx.vars, ...(ctx.stageVars ?? {}) };
  if (path[0] in vars) return [walk(vars, path)];
  const got = getDotted(ctx.params, name);
  return got.found ? [got.value] : undefined;
}

function convertString(s: string, ctx: Context, where: string, notes: string[]): string {
  return s.replace(INTERP_RE, (m, escaped: string | undefined, inner: string) => {
    if (escaped) return m.slice(1);
    const expr = expressionFor(inner.trim(), ctx);
    if (expr) return `\${{ ${expr} }}`;
    notes.push(`${where}: '${m}' names no param, var or item; left as it is`);
    return m;
  });
}

/** Convert `${}` in every string of a value (foreach lists, matrix axes). */
function convertStrings(v: unknown, ctx: Context, where: string, notes: string[]): unknown {
  if (typeof v === 'string') return convertString(v, ctx, where, notes);
  if (Array.isArray(v)) return v.map((x) => convertStrings(x, ctx, where, notes));
  if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, convertStrings(x, ctx, where, notes)]));
  return v;
}

/** DVC's value of a foreach/matrix source: the data itself, or a `${params.list}` it names. */
function interpolatedValue(v: unknown, ctx: Context): unknown {
  if (typeof v !== 'string') return v;
  const m = /^\$\{\s*([^{}]+?)\s*\}$/.exec(v.trim());
  if (!m) return v;
  const vals = valuesOf(m[1], ctx);
  return vals?.[0];
}

/**
 * A command: DVC pastes each value as text; fisherflow passes each `${{ }}` as exactly its value,
 * quoted for where it stands. Where the values would read differently quoted (several words, an
 * empty string, shell characters), `| raw` keeps DVC's meaning.
 */
function convertCommand(cmd: string, ctx: Context, where: string, notes: string[]): string {
  const states = quoteStates(cmd);
  return cmd.replace(INTERP_RE, (m, escaped: string | undefined, inner: string, offset: number) => {
    if (escaped) return m.slice(1);
    const name = inner.trim();
    const expr = expressionFor(name, ctx);
    if (!expr) {
      notes.push(`${where}: '${m}' names no param, var or item; left as shell text`);
      return m;
    }
    const values = valuesOf(name, ctx);
    // A template that is a whole shell word by itself (not glued to other text).
    const alone = /(^|[\s;&|(])$/.test(cmd.slice(0, offset)) && /^($|[\s;&|)])/.test(cmd.slice(offset + m.length));
    const raw = values === undefined || values.some((v) => needsRaw(v, states[offset], alone));
    if (raw) notes.push(`${where}: \${{ ${expr} | raw }}: ${values === undefined ? 'its value is not known here' : 'its values are shell text (several words, empty, or shell characters)'}, pasted as DVC does`);
    return raw ? `\${{ ${expr} | raw }}` : `\${{ ${expr} }}`;
  });
}

/**
 * Would a value read differently passed as one quoted word than pasted as text at a place in
 * state `q`? An empty value glued to other text changes nothing; alone it would be an empty argument.
 */
function needsRaw(v: unknown, q: QuoteState, alone: boolean): boolean {
  if (v !== null && typeof v === 'object') return true;
  const s = String(v);
  if (q === 'single') return s.includes("'");
  if (q === 'double') return /["$`\\]/.test(s);
  if (s === '') return alone;
  return !SAFE_WORD.test(s);
}
