// pipeline.yaml → validated, expanded stages (pure apart from reading the file and stage modules).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type AjvModule from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { PACKAGE_ROOT, type StageRegistry } from '../stage/registry.js';
import { HUB_KEYWORD, PATH_KEYWORD, type ResourceRequest, type StageModule } from '../stage/api.js';
import { resolvePlugins } from '../stage/plugins.js';
import type { SlurmJobOptions } from '../exec/slurm/batch-job.js';
import { parseMemory } from '../schedule/devices.js';
import { parseTimeLimit } from '../schedule/time-limit.js';
import { UserError, UserErrors, type SourceLocation } from '../errors.js';
import { didYouMean } from './errors.js';
import { looksLikeHubId, resolveHubId, type HubInput } from './hub.js';
import { readSourceDocument, type PathSegment, type SourceDocument } from './source.js';
import { deepMerge, flattenKeys, getDotted, parseSetOption, resolveParams, type ParamOverrides, type Params } from './params.js';
import { paramsFileOf, readWorkspaceParamsFiles, type ParamsFiles } from './params-files.js';
import { DVC_STAGE_KEYS, DVC_TOP_KEYS, dvcInterpolations } from './dvc-habits.js';
import { resolvePlots, type PlotSpec, type RawPlot } from './plots.js';
import { outputHolding } from './output-files.js';
import {
  TemplateSyntaxError,
  artifactPlaceholder,
  containsTemplate,
  findArtifactRefs,
  substituteArtifactRefs,
  renderCommand,
  renderValue,
  type ArtifactRef,
  type TemplateExpr,
} from './template.js';

export interface StageSpec {
  /** Concrete name: `fim` or, after foreach/matrix, `fim@tic`. */
  name: string;
  /** The name as written in the YAML. */
  family: string;
  kind: 'builtin' | 'command';
  /** Built-in type, or 'command'. */
  type: string;
  /** Rendered `with:` (artifact references are placeholders until planning). */
  inputs: Record<string, unknown>;
  command?: string;
  /** Command-stage deps, relative to the workspace. */
  deps: string[];
  /** Command stage: output name → workspace-relative path. Built-in: output key → path in its output folder. */
  outs: Record<string, string>;
  /** Command stage: output name → where the YAML declares it (under `yamlPath`), for error locations. */
  outsYaml: Record<string, PathSegment[]>;
  /** Metrics files: an output's name, or `NAME/sub/path` for a file inside output NAME's folder. */
  metrics: string[];
  /** Outputs to draw with `fisherflow plots`. */
  plots: PlotSpec[];
  /** Command stage: outputs kept while the command runs (`persist: true`). */
  persist: string[];
  /** Command stage: outputs kept in the workspace only (`cache: false`). */
  uncached: string[];
  /** `always_run: true`: stale on every run. */
  alwaysRun: boolean;
  /** `frozen: true`: never rerun; the result its lock entry names is kept. */
  frozen: boolean;
  /** Concrete stage names that must finish first (explicit `needs:`). */
  needs: string[];
  env: Record<string, string>;
  envFromCaller: string[];
  resources: ResourceRequest;
  /** `executor:` of the stage, when it names one (else the run's default). Not part of the key. */
  executor?: 'local' | 'slurm';
  /** `slurm:` sbatch settings of the stage. Not part of the key. */
  slurm?: SlurmJobOptions;
  retries: number;
  /** Dotted param names this stage reads (its templates and its `params:` list), with their values. */
  paramsUsed: Record<string, unknown>;
  /** The params its `params:` lists (a command reads them itself): these go into the key. */
  paramsDeclared: Record<string, unknown>;
  /** Params it reads that come from a params file → that file. */
  paramSources: Record<string, string>;
  refs: ArtifactRef[];
  /** Built-in inputs that name local files or folders: JSON pointer-ish path → absolute path. */
  pathInputs: Record<string, string>;
  /** Path inputs given as Hugging Face ids (see hub.ts), by the same path; `pathInputs` has their snapshot. */
  hubInputs: Record<string, HubInput>;
  worker: boolean;
  wantsPipeline: boolean;
  /** Where the stage is written, for error messages. */
  yamlPath: PathSegment[];
}

export interface Pipeline {
  /** Absolute path of the pipeline file. */
  file: string;
  /** The workspace: the pipeline file's folder. Command stages run here; relative paths resolve here. */
  dir: string;
  source: SourceDocument;
  params: Params;
  /** The params files (params.yaml, `params_files:`) and where each param in them comes from. */
  paramsFiles: ParamsFiles;
  stages: Map<string, StageSpec>;
  /** YAML stage name → concrete names. */
  families: Map<string, string[]>;
  modules: Map<string, StageModule>;
  /** Things that are legal but probably not meant (a DVC-style `${x}` in a command). */
  warnings: UserError[];
}

export interface LoadOptions extends ParamOverrides {
  registry: StageRegistry;
  /** Parse cache folder (see source.ts); none: parse and validate every time. */
  cacheDir?: string;
}

let pipelineValidator: ValidateFunction | undefined;
let ajvInstance: AjvModule.default | undefined;
// Loaded on first use: a cached pipeline of command stages never needs ajv (~0.1 s to load).
function ajv(): AjvModule.default {
  if (!ajvInstance) {
    const Ajv = (createRequire(import.meta.url)('ajv') as typeof AjvModule).default;
    // verbose: errors carry their parent schema, which the did-you-mean suggestions read.
    ajvInstance = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, verbose: true });
    ajvInstance.addKeyword({ keyword: PATH_KEYWORD, schemaType: 'boolean' });
    ajvInstance.addKeyword({ keyword: HUB_KEYWORD, schemaType: 'string' });
  }
  return ajvInstance;
}
const stageValidators = new Map<string, ValidateFunction>();

export const PIPELINE_SCHEMA_PATH = join(PACKAGE_ROOT, 'schema', 'fisherflow.schema.json');
let pipelineSchemaText: string | undefined;
const schemaText = () => (pipelineSchemaText ??= readFileSync(PIPELINE_SCHEMA_PATH, 'utf8'));

function pipelineSchemaValidator(): ValidateFunction {
  if (!pipelineValidator) pipelineValidator = ajv().compile(JSON.parse(schemaText()));
  return pipelineValidator;
}

interface RawStage {
  description?: string;
  uses?: string;
  with?: Record<string, unknown>;
  vars?: Record<string, unknown>;
  run?: string;
  deps?: string[];
  params?: string[];
  outs?: RawOut[] | Record<string, RawOut>;
  metrics?: string[];
  plots?: RawPlot[];
  always_run?: boolean;
  frozen?: boolean;
  needs?: string[];
  env?: Record<string, unknown> | string[];
  resources?: ResourceRequest;
  executor?: 'local' | 'slurm';
  slurm?: SlurmJobOptions;
  retries?: number;
  foreach?: unknown;
  matrix?: unknown;
}

type RawOut = string | { path: string; persist?: boolean; cache?: boolean };

/** What a foreach/matrix member knows, and the pipeline-wide values its templates may read. */
interface Scope {
  params: Params;
  flatParams: string[];
  /** `vars:` at the top level, unrendered. */
  vars: Record<string, unknown>;
}

export async function loadPipeline(file: string, opts: LoadOptions): Promise<Pipeline> {
  const abs = resolve(file);
  const source = readSourceDocument(abs, file, { cacheDir: opts.cacheDir });
  const locate = source.locate;
  const raw = source.value;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UserError('a pipeline file must be a map with a `stages:` key', locate([]));
  }
  // The same text against the same schema validates the same way: the parse cache remembers it.
  const schemaHash = createHash('sha256').update(schemaText()).digest('hex');
  if (source.memo.schema !== schemaHash) {
    const validate = pipelineSchemaValidator();
    if (!validate(raw)) throw schemaErrors(validate.errors ?? [], [], source, 'pipeline');
    source.remember({ schema: schemaHash });
  }

  const doc = raw as { params?: Params; params_files?: string[]; vars?: Record<string, unknown>; stages: Record<string, RawStage>; plugins?: string[] };
  // Stage packages first: `uses:` below may name their types.
  if (doc.plugins?.length) opts.registry.addPlugins(resolvePlugins(doc.plugins, dirname(abs), (i) => locate(['plugins', i])));
  const paramsFiles = readWorkspaceParamsFiles(dirname(abs), doc.params_files, '', (name) => {
    const i = doc.params_files?.indexOf(name) ?? -1;
    return i >= 0 ? locate(['params_files', i]) : undefined;
  });
  const defaults = deepMerge(doc.params ?? {}, paramsFiles.values);
  for (const s of opts.set ?? []) {
    const [k] = parseSetOption(s);
    // Under a param that is a template (a family's outputs), the entries are the user's to give.
    const underTemplate = k.split('.').some((_, i, parts) => i > 0 && containsTemplate(getDotted(defaults, parts.slice(0, i).join('.')).value));
    if (!getDotted(defaults, k).found && !opts.paramsFile && !underTemplate) {
      throw new UserError(`--set ${k}: the pipeline declares no param '${k}'${didYouMean(k, Object.keys(flattenKeys(defaults)))}`, locate(['params'], 'key'));
    }
  }
  const params = resolveParams(defaults, opts);
  const flatParams = Object.keys(flattenKeys(params));
  const scope: Scope = { params, flatParams, vars: doc.vars ?? {} };
  const errors: UserError[] = [];
  const warnings: UserError[] = [];

  // Pass 1: the members of each family (foreach/matrix), so references can be checked.
  const families = new Map<string, Array<{ name: string; item?: unknown; key?: string }>>();
  for (const [family, st] of Object.entries(doc.stages)) {
    try {
      families.set(family, expandFamily(family, st, scope, source));
    } catch (e) {
      if (e instanceof UserError) errors.push(e);
      else throw e;
    }
  }
  if (errors.length) throw new UserErrors(errors);

  const modules = new Map<string, StageModule>();
  const stages = new Map<string, StageSpec>();
  const allNames = new Set([...families.values()].flatMap((ms) => ms.map((m) => m.name)));
  for (const [family, st] of Object.entries(doc.stages)) {
    const yamlPath: PathSegment[] = ['stages', family];
    let module: StageModule | undefined;
    if (st.uses !== undefined && st.run !== undefined) {
      errors.push(new UserError(`stage '${family}' has both \`uses:\` and \`run:\`; a stage is either a built-in or a command`, locate([...yamlPath, 'run'], 'key')));
      continue;
    }
    if (st.frozen && st.always_run) {
      errors.push(new UserError(`stage '${family}' is both frozen (never rerun) and always_run (run every time); choose one`, locate([...yamlPath, 'always_run'], 'key')));
      continue;
    }
    if (st.uses === undefined && st.run === undefined) {
      errors.push(new UserError(`stage '${family}' needs \`uses: TYPE\` (a built-in stage) or \`run: COMMAND\``, locate(yamlPath, 'key')));
      continue;
    }
    if (st.uses !== undefined) {
      if (!opts.registry.has(st.uses)) {
        const similar = didYouMean(st.uses, opts.registry.types());
        errors.push(new UserError(`unknown stage type '${st.uses}'${similar}; known types: ${opts.registry.types().join(', ')}`, locate([...yamlPath, 'uses']), similar ? undefined : 'a stage from a package or a folder of your own: name it under `plugins:`'));
        continue;
      }
      try {
        module = await opts.registry.load(st.uses);
      } catch (e) {
        // A stage file that cannot be used (stale API version, not a stage): located at its use.
        if (!(e instanceof UserError) || e.location) throw e;
        errors.push(new UserError(e.message, locate([...yamlPath, 'uses']), e.hint));
        continue;
      }
      modules.set(st.uses, module);
    } else {
      for (const k of ['with'] as const) if (st[k] !== undefined) errors.push(new UserError(`\`${k}:\` is for built-in stages; a command stage takes its inputs in \`run:\` and \`deps:\``, locate([...yamlPath, k], 'key')));
    }
    for (const member of families.get(family) ?? []) {
      try {
        const spec = expandStage(family, member, st, module, scope, families, allNames, source, dirname(abs), opts, paramsFiles);
        stages.set(spec.name, spec);
      } catch (e) {
        if (e instanceof UserError) errors.push(e);
        else throw e;
      }
    }
  }
  if (errors.length) throw new UserErrors(errors);
  const familyNames = new Map([...families].map(([f, ms]) => [f, ms.map((m) => m.name)]));
  checkReferences(stages, source);
  nameOutputsAfterUpstream(stages, modules);
  for (const [family, st] of Object.entries(doc.stages)) {
    const w = interpolationWarning(family, st, scope, families.get(family)?.[0]?.item !== undefined, source);
    if (w) warnings.push(w);
  }
  return { file: abs, dir: dirname(abs), source, params, paramsFiles, stages, families: familyNames, modules, warnings };
}

/** A DVC-style `${name}` in `run:` that names a param, var or the foreach item: bash would expand it to nothing. */
/**
 * A built-in stage's outputs may be named after a path input (`copy` keeps the file's name). When
 * that input is another stage's output, `outputs()` saw a placeholder at expansion; here it sees
 * the upstream output's declared path instead (what the stage reads at run time), upstream first.
 */
function nameOutputsAfterUpstream(stages: Map<string, StageSpec>, modules: Map<string, StageModule>): void {
  const done = new Set<string>();
  const visit = (name: string): void => {
    if (done.has(name)) return;
    done.add(name); // before the upstream walk: a cycle (reported later) ends here
    const spec = stages.get(name);
    const module = spec?.kind === 'builtin' ? modules.get(spec.type) : undefined;
    if (!spec || !module) return;
    const refs = findArtifactRefs(spec.inputs);
    if (refs.length === 0) return;
    for (const r of refs) visit(r.stage);
    const standIn = substituteArtifactRefs(spec.inputs, (ref) => stages.get(ref.stage)?.outs[ref.output] ?? ref.output) as Record<string, unknown>;
    for (const [k, o] of Object.entries(module.outputs(standIn))) if (k in spec.outs) spec.outs[k] = o.path;
  };
  for (const name of stages.keys()) visit(name);
}

function interpolationWarning(family: string, st: RawStage, scope: Scope, hasItem: boolean, source: SourceDocument): UserError | undefined {
  if (typeof st.run !== 'string') return undefined;
  const env = st.env && !Array.isArray(st.env) ? Object.keys(st.env) : (st.env ?? []);
  const found = dvcInterpolations(st.run, (name) => {
    const head = name.split('.')[0];
    if (env.includes(head)) return undefined;
    if ((head === 'item' || head === 'key') && hasItem) return `\${{ ${name} }}`;
    if (getDotted(scope.params, name).found) return `\${{ params.${name} }}`;
    if (Object.prototype.hasOwnProperty.call(st.vars ?? {}, head) || Object.prototype.hasOwnProperty.call(scope.vars, head)) return `\${{ vars.${name} }}`;
    return undefined;
  });
  if (!found.length) return undefined;
  return new UserError(
    `stage '${family}': ${found.map((f) => `'${f.text}'`).join(', ')} in run: ${found.length > 1 ? 'are' : 'is'} expanded by bash (to nothing, unless the environment sets it), not by fisherflow`,
    source.locate(['stages', family, 'run']),
    `for fisherflow's value, write ${found.map((f) => f.instead).join(', ')}`,
  );
}

/** A validator for another fisherflow schema (e.g. the project config's), with the pipeline's keywords. */
export function compileSchema(schema: object): ValidateFunction {
  return ajv().compile(schema);
}

export function schemaErrors(errs: ErrorObject[], base: PathSegment[], source: SourceDocument, what: string, known?: string[]): UserErrors {
  const out: UserError[] = [];
  const seen = new Set<string>();
  const oneOfAt = new Set<string>();
  for (const e of errs) {
    // oneOf/anyOf produce a summary plus each branch's complaint; the summary is enough.
    if (e.keyword === 'if') continue;
    const path = [...base, ...e.instancePath.split('/').slice(1).map(decodePointer)];
    let msg: string;
    let loc: SourceLocation;
    let hint: string | undefined;
    // A DVC key where fisherflow expects its own: say what fisherflow calls it.
    const dvcKey = (prop: string) => (what !== 'pipeline' ? undefined : path.length === 0 ? DVC_TOP_KEYS[prop] : path.length === 2 && path[0] === 'stages' ? DVC_STAGE_KEYS[prop] : undefined);
    if (e.keyword === 'additionalProperties' && dvcKey(String((e.params as { additionalProperty: string }).additionalProperty))) {
      const prop = String((e.params as { additionalProperty: string }).additionalProperty);
      ({ message: msg, hint } = dvcKey(prop)!);
      loc = source.locate([...path, prop], 'key');
    } else if (e.keyword === 'additionalProperties') {
      const prop = String((e.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys(((e.parentSchema as { properties?: object })?.properties ?? {}) as object);
      msg = `unknown ${what === 'pipeline' ? 'key' : 'input'} '${prop}'${didYouMean(prop, allowed.length ? allowed : known ?? [])}${allowed.length ? `; expected one of: ${allowed.join(', ')}` : ''}`;
      loc = source.locate([...path, prop], 'key');
    } else if (e.keyword === 'propertyNames') {
      const name = String((e.params as { propertyName: string }).propertyName);
      msg = `invalid stage name '${name}': use letters, digits, '_' and '-' ('@' is reserved for foreach/matrix members)`;
      loc = source.locate([...path, name], 'key');
    } else if (e.keyword === 'required') {
      msg = `missing required ${what === 'pipeline' ? 'key' : 'input'} '${(e.params as { missingProperty: string }).missingProperty}'`;
      loc = source.locate(path, 'key');
    } else if (e.keyword === 'enum') {
      msg = `${describe(path)} must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).map((v) => JSON.stringify(v)).join(', ')}`;
      loc = source.locate(path);
    } else if (e.keyword === 'oneOf' && (e.parentSchema as Record<string, unknown> | undefined)?.['x-expected']) {
      msg = `${describe(path)} must be ${String((e.parentSchema as Record<string, unknown>)['x-expected'])}`;
      loc = source.locate(path);
    } else {
      msg = `${describe(path)} ${e.message ?? 'is invalid'}`;
      loc = source.locate(path);
    }
    if (e.keyword === 'oneOf') oneOfAt.add(`${loc.line}:${loc.column}`);
    const k = `${loc.line}:${loc.column}:${msg}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(new UserError(msg, loc, hint));
  }
  // A oneOf failure repeats itself per branch: where a location has a specific complaint, drop
  // the branch noise ("must be array", "must match exactly one schema") and keep the rest.
  const vague = (m: string) => /must match exactly one schema|must be (array|object|string)$/.test(m);
  const locKey = (e: UserError) => `${e.location?.line}:${e.location?.column}`;
  const hasSpecific = new Set(out.filter((e) => !vague(e.message)).map(locKey));
  const kept = out.filter((e) => !(vague(e.message) && oneOfAt.has(locKey(e)) && (hasSpecific.has(locKey(e)) || !/must match exactly one schema/.test(e.message))));
  kept.sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0) || (/^unknown/.test(b.message) ? 1 : 0) - (/^unknown/.test(a.message) ? 1 : 0));
  return new UserErrors(kept);
}

function decodePointer(s: string): PathSegment {
  const d = s.replace(/~1/g, '/').replace(/~0/g, '~');
  return /^\d+$/.test(d) ? Number(d) : d;
}

function describe(path: PathSegment[]): string {
  if (path.length === 0) return 'the file';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** How a foreach/matrix value names its member (`NAME@LABEL`): a scalar itself; a map its name, id or key field, else its first scalar. */
export function variantLabel(v: unknown): string {
  if (v === null || typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return v.map(variantLabel).join('-');
  const o = v as Record<string, unknown>;
  for (const k of ['name', 'id', 'key']) if (o[k] !== undefined && typeof o[k] !== 'object') return String(o[k]);
  const firstScalar = Object.values(o).find((x) => x === null || typeof x !== 'object');
  return firstScalar === undefined ? JSON.stringify(v) : String(firstScalar);
}

function paramEvaluator(params: Params, flatParams: string[], used: Record<string, unknown> | undefined, defaultLoc: () => SourceLocation) {
  return (expr: TemplateExpr, loc: () => SourceLocation = defaultLoc): unknown => {
    const names = expr.segments.map((s) => (s.kind === 'expr' ? null : s.value));
    if (names[0] !== 'params') throw new UserError(`'${expr.text}' is not available here: only params and vars can be used in foreach/matrix`, loc());
    if (names.includes(null)) throw new UserError(`'${expr.text}': computed segments are not allowed in params references`, loc());
    const key = names.slice(1).join('.');
    const got = getDotted(params, key);
    if (!got.found) throw new UserError(`unknown param '${key}'${didYouMean(key, flatParams)}`, loc());
    if (used) used[key] = got.value;
    return got.value;
  };
}

/** Vars nest at most this deep (a var using a var ...): deeper is a loop. */
const MAX_VAR_DEPTH = 16;

/**
 * The value of `vars.NAME.field...`: the stage's own `vars:` first, then the pipeline's. The
 * value is rendered where it is used (so the params it reads count as the stage's), by `render`.
 */
function varValue(expr: TemplateExpr, names: string[], local: Record<string, unknown> | undefined, top: Record<string, unknown>, depth: number, render: (raw: unknown) => unknown, loc: () => SourceLocation): unknown {
  const name = names[1];
  if (name === undefined) throw new UserError(`'${expr.text}': name a var (vars.NAME)`, loc());
  const has = (o: Record<string, unknown> | undefined) => o !== undefined && Object.prototype.hasOwnProperty.call(o, name);
  if (!has(local) && !has(top)) throw new UserError(`unknown var '${name}'${didYouMean(name, [...Object.keys(local ?? {}), ...Object.keys(top)])}`, loc(), 'vars are declared under `vars:`, in the stage or at the top of the file');
  if (depth > MAX_VAR_DEPTH) throw new UserError(`'${expr.text}': vars refer to each other in a loop`, loc());
  let cur = render(has(local) ? local![name] : top[name]);
  for (const k of names.slice(2)) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, k)) {
      throw new UserError(`'${expr.text}': var '${name}' has no field '${k}'${didYouMean(k, cur && typeof cur === 'object' ? Object.keys(cur) : [])}`, loc());
    }
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function expandFamily(family: string, st: RawStage, scope: Scope, source: SourceDocument): Array<{ name: string; item?: unknown; key?: string }> {
  const base: PathSegment[] = ['stages', family];
  if (st.foreach !== undefined && st.matrix !== undefined) {
    throw new UserError(`stage '${family}' has both foreach and matrix; use one`, source.locate([...base, 'matrix'], 'key'));
  }
  const render = (v: unknown, key: string) => {
    const loc = () => source.locate([...base, key]);
    const evaluateParam = paramEvaluator(scope.params, scope.flatParams, undefined, loc);
    const evaluate = (e: TemplateExpr, depth: number): unknown => {
      const names = e.segments.map((s) => (s.kind === 'expr' ? '' : s.value));
      if (names[0] !== 'vars') return evaluateParam(e);
      return varValue(e, names, st.vars, scope.vars, depth, (raw) => renderValue(raw, (inner) => evaluate(inner, depth + 1)), loc);
    };
    try {
      return renderValue(v, (e) => evaluate(e, 0));
    } catch (e) {
      if (e instanceof TemplateSyntaxError) throw new UserError(e.message, source.locate([...base, key]));
      throw e;
    }
  };
  const members: Array<{ name: string; item?: unknown; key?: string }> = [];
  if (st.foreach !== undefined) {
    const values = render(st.foreach, 'foreach');
    if (Array.isArray(values)) {
      for (const v of values) members.push({ name: `${family}@${variantLabel(v)}`, item: v });
    } else if (values && typeof values === 'object') {
      for (const [k, v] of Object.entries(values)) members.push({ name: `${family}@${k}`, item: v, key: k });
    } else {
      throw new UserError(`foreach must be a list or a map (got ${JSON.stringify(values)})`, source.locate([...base, 'foreach']));
    }
  } else if (st.matrix !== undefined) {
    const axes = render(st.matrix, 'matrix');
    if (!axes || typeof axes !== 'object' || Array.isArray(axes)) throw new UserError('matrix must be a map of axis name → list of values', source.locate([...base, 'matrix']));
    // An axis is a list (members named by value) or a map (named by key).
    let combos: Array<{ item: Record<string, unknown>; labels: string[] }> = [{ item: {}, labels: [] }];
    for (const [axis, vals] of Object.entries(axes as Record<string, unknown>)) {
      const entries: Array<[string, unknown]> | undefined = Array.isArray(vals) ? vals.map((v) => [variantLabel(v), v]) : vals && typeof vals === 'object' ? Object.entries(vals) : undefined;
      if (!entries || entries.length === 0) throw new UserError(`matrix axis '${axis}' must be a non-empty list (or a map of name → value)`, source.locate([...base, 'matrix', axis]));
      combos = combos.flatMap((c) => entries.map(([label, v]) => ({ item: { ...c.item, [axis]: v }, labels: [...c.labels, label] })));
    }
    for (const c of combos) members.push({ name: `${family}@${c.labels.join(',')}`, item: c.item });
  } else {
    members.push({ name: family });
  }
  const seen = new Set<string>();
  for (const m of members) {
    if (seen.has(m.name)) throw new UserError(`foreach/matrix of '${family}' yields the name '${m.name}' twice; give items distinct values (or a 'name' field)`, source.locate([...base, st.foreach !== undefined ? 'foreach' : 'matrix']));
    seen.add(m.name);
  }
  return members;
}

function expandStage(
  family: string,
  member: { name: string; item?: unknown; key?: string },
  st: RawStage,
  module: StageModule | undefined,
  scope: Scope,
  families: Map<string, Array<{ name: string; item?: unknown; key?: string }>>,
  allNames: Set<string>,
  source: SourceDocument,
  workspace: string,
  overrides: ParamOverrides,
  paramsFiles: ParamsFiles,
): StageSpec {
  const { params, flatParams } = scope;
  const base: PathSegment[] = ['stages', family];
  const paramsUsed: Record<string, unknown> = {};
  // Which params each `with:` value read (by its path under `with`), so that a value the stage's
  // schema rejects can be blamed on the --set that supplied it rather than on the YAML line.
  const withParams = new Map<string, string[]>();
  const noteParam = (path: PathSegment[], key: string) => {
    if (path[0] !== 'with') return;
    const at = path.slice(1).join('/');
    withParams.set(at, [...(withParams.get(at) ?? []), key]);
  };
  let varDepth = 0;

  const evaluate = (expr: TemplateExpr, path: PathSegment[]): unknown => {
    const loc = () => source.locate([...base, ...path]);
    const segs = expr.segments;
    const head = segs[0].kind === 'name' ? segs[0].value : '';
    const evalSub = (e: TemplateExpr) => evaluate(e, path);
    // memberIndex: indexing a foreach/matrix family, where a list or map item selects the member
    // named after it (as expandFamily names members: [st, op] → st-op).
    const segValue = (i: number, memberIndex = false): string => {
      const s = segs[i];
      if (!s) throw new UserError(`'${expr.text}' is incomplete`, loc());
      if (s.kind === 'name' || s.kind === 'literal') return s.value;
      // A bare word in brackets that names nothing is a literal: stages.models[op].
      const h = s.expr.segments[0];
      if (s.expr.segments.length === 1 && h.kind === 'name' && !['params', 'item', 'key', 'stages', 'vars'].includes(h.value)) return h.value;
      // A number in brackets is a literal too: stages.interpolation[0.5] (members are named String(item)).
      if (/^-?\d+(\.\d+)?$/.test(s.expr.text)) return String(Number(s.expr.text));
      const v = evalSub(s.expr);
      if (v !== null && typeof v === 'object' && !memberIndex) throw new UserError(`'${expr.text}': an index must be a plain value, got ${JSON.stringify(v)}`, loc());
      return variantLabel(v);
    };
    switch (head) {
      case 'params': {
        // Computed segments: params.models[item] → the value under the item's name.
        const parts = segs.slice(1).map((x, i) => (x.kind === 'name' ? x.value : segValue(i + 1)));
        const key = parts.join('.');
        const got = getDotted(params, key);
        if (got.found) {
          paramsUsed[key] = got.value;
          noteParam(path, key);
          return renderParamTemplates(key, got.value, path);
        }
        // A param on the way that is a template (models: ${{ stages.model.outputs.model }}) is
        // rendered first, and the rest of the path looked up in what it renders to.
        for (let n = parts.length - 1; n > 0; n--) {
          const head = getDotted(params, parts.slice(0, n).join('.'));
          if (!head.found || !containsTemplate(head.value)) continue;
          const prefix = parts.slice(0, n).join('.');
          paramsUsed[prefix] = head.value;
          noteParam(path, prefix);
          const inner = getDotted(renderParamTemplates(prefix, head.value, path), parts.slice(n).join('.'));
          if (inner.found) return inner.value;
          break;
        }
        throw new UserError(`unknown param '${key}'${segs.every((x) => x.kind === 'name') ? '' : ` (from '${expr.text}')`}${didYouMean(key, flatParams)}`, loc());
      }
      case 'item':
      case 'key': {
        if (member.item === undefined) throw new UserError(`'${expr.text}' is only defined inside a stage with foreach or matrix`, loc());
        let cur: unknown = head === 'key' ? member.key : member.item;
        if (head === 'key' && cur === undefined) throw new UserError(`'key' is defined only for foreach over a map`, loc());
        for (let i = 1; i < segs.length; i++) {
          const k = segValue(i);
          if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, k)) {
            const avail = cur && typeof cur === 'object' ? Object.keys(cur) : [];
            throw new UserError(`'${expr.text}': the item has no field '${k}'${didYouMean(k, avail)}`, loc());
          }
          cur = (cur as Record<string, unknown>)[k];
        }
        return cur;
      }
      case 'vars': {
        const names = segs.map((_, i) => segValue(i));
        varDepth++;
        try {
          return varValue(expr, names, st.vars, scope.vars, varDepth, (raw) => renderValue(raw, (e) => evaluate(e, path)), loc);
        } finally {
          varDepth--;
        }
      }
      case 'stages': {
        let i = 1;
        let target = segValue(i++);
        // Family indexing: stages.train[item] → train@<item>; matrix: several brackets.
        const idx: string[] = [];
        while (segs[i] && segs[i].kind !== 'name') idx.push(segValue(i++, true));
        if (idx.length) target = `${target}@${idx.join(',')}`;
        if (segValue(i) !== 'outputs') throw new UserError(`'${expr.text}': expected stages.NAME.outputs.KEY`, loc());
        const output = segValue(i + 1);
        if (segs.length > i + 2) throw new UserError(`'${expr.text}': expected stages.NAME.outputs.KEY (nothing after KEY)`, loc());
        const fam = families.get(target);
        if (fam && fam.length > 1 || (fam && fam[0].name !== target)) {
          // A whole family: a map member-suffix → artifact.
          const out: Record<string, string> = {};
          for (const m of fam) out[m.name.slice(target.length + 1)] = artifactPlaceholder({ stage: m.name, output });
          return out;
        }
        if (!allNames.has(target)) {
          throw new UserError(`'${expr.text}' refers to an unknown stage '${target}'${didYouMean(target, [...families.keys(), ...allNames])}`, loc());
        }
        if (target === member.name) throw new UserError(`'${expr.text}': a stage cannot use its own outputs`, loc());
        return artifactPlaceholder({ stage: target, output });
      }
      default:
        throw new UserError(`unknown name '${head}' in '\${{ ${expr.text} }}'; expected params, vars, item, key or stages`, loc());
    }
  };

  // A param's value may itself hold templates (`base: ${{ stages.base-model.outputs.model }}`, so
  // that `--set base=/my/checkpoint` swaps a stage's output for a folder): they are rendered
  // where the param is used, as if written there.
  const rendering: string[] = [];
  const renderParamTemplates = (key: string, value: unknown, path: PathSegment[]): unknown => {
    if (!containsTemplate(value)) return value;
    if (rendering.includes(key)) throw new UserError(`param '${key}' refers to itself (${[...rendering, key].join(' → ')})`, source.locate([...base, ...path]));
    rendering.push(key);
    try {
      return renderValue(value, (e) => evaluate(e, path));
    } finally { rendering.pop(); }
  };

  const render = <T>(v: T, key: string): T => {
    try {
      return renderValue(v, (e, p) => evaluate(e, [key, ...p])) as T;
    } catch (e) {
      if (e instanceof TemplateSyntaxError) throw new UserError(`bad template: ${e.message}`, source.locate([...base, key]));
      throw e;
    }
  };

  const inputs = (render(st.with ?? {}, 'with') ?? {}) as Record<string, unknown>;
  let command: string | undefined;
  try {
    command = st.run !== undefined ? renderCommand(String(st.run), (e) => evaluate(e, ['run'])) : undefined;
  } catch (e) {
    if (e instanceof TemplateSyntaxError) throw new UserError(`bad template: ${e.message}`, source.locate([...base, 'run']));
    throw e;
  }
  // A whole family's outputs (`stages.count.outputs.tab` on a foreach stage) are one dep per member.
  const deps = (render(st.deps ?? [], 'deps') as unknown[]).flatMap((d) => (d !== null && typeof d === 'object' ? Object.values(d).map(String) : [String(d)]));
  const rawOuts = render(st.outs ?? [], 'outs') as RawOut[] | Record<string, RawOut>;
  const needsRaw = (render(st.needs ?? [], 'needs') as unknown[]).map(String);
  const envRaw = render(st.env ?? {}, 'env');
  const metricsRaw = (render(st.metrics ?? [], 'metrics') as unknown[]).map(String);
  const plotsRaw = render(st.plots ?? [], 'plots') as RawPlot[];

  // Params the command reads itself: their values go into the key.
  const paramsDeclared: Record<string, unknown> = {};
  (render(st.params ?? [], 'params') as unknown[]).map(String).forEach((k, i) => {
    const got = getDotted(params, k);
    if (!got.found) throw new UserError(`params: unknown param '${k}'${didYouMean(k, flatParams)}`, source.locate([...base, 'params', i]), paramsFiles.files.length ? undefined : 'params come from `params:`, params.yaml beside the pipeline, or the files under `params_files:`');
    paramsDeclared[k] = got.value;
    paramsUsed[k] = got.value;
  });
  const paramSources: Record<string, string> = {};
  for (const k of Object.keys(paramsUsed)) {
    const file = paramsFileOf(paramsFiles.sourceOf, k);
    if (file) paramSources[k] = file;
  }

  const env: Record<string, string> = {};
  const envFromCaller: string[] = [];
  if (Array.isArray(envRaw)) envFromCaller.push(...envRaw.map(String));
  else for (const [k, v] of Object.entries(envRaw as Record<string, unknown>)) env[k] = String(v);

  const needs: string[] = [];
  needsRaw.forEach((n, i) => {
    const fam = families.get(n);
    if (fam) needs.push(...fam.map((m) => m.name));
    else if (allNames.has(n)) needs.push(n);
    else throw new UserError(`needs: unknown stage '${n}'${didYouMean(n, [...families.keys(), ...allNames])}`, source.locate([...base, 'needs', i]));
  });

  let outs: Record<string, string> = {};
  const outsYaml: Record<string, PathSegment[]> = {};
  const persist: string[] = [];
  const uncached: string[] = [];
  const metrics: string[] = [];
  let plots: PlotSpec[] = [];
  const pathInputs: Record<string, string> = {};
  const hubInputs: Record<string, HubInput> = {};
  let resources: ResourceRequest = { ...(module?.resources ?? {}), ...(st.resources ?? {}) };
  if (module) {
    const validator = stageValidator(module);
    if (!validator(inputs)) throw inputErrors(validator.errors ?? [], member.name, base, source, withParams, overrides);
    const problems = module.check?.(inputs) ?? [];
    if (problems.length) throw new UserErrors(problems.map((p) => new UserError(`stage '${member.name}' (${module.type}): ${p}`, source.locate([...base, 'with']))));
    for (const [k, spec] of Object.entries(module.outputs(inputs))) {
      outs[k] = spec.path;
      if (spec.metrics) metrics.push(k);
    }
    collectPathInputs(inputs, module.inputSchema, [], (p, value, schema) => {
      if (findArtifactRefs(value).length) return;
      let absPath = isAbsolute(value) ? value : resolve(workspace, value);
      // Not a local path but a hub id: the snapshot in the local Hugging Face cache.
      const hub = schema[HUB_KEYWORD];
      if ((hub === 'model' || hub === 'tokenizer') && !isAbsolute(value) && !existsSync(absPath) && looksLikeHubId(value)) {
        const h = resolveHubId(value, hub);
        hubInputs[p.join('.')] = h;
        if (h.dir) absPath = h.dir;
      }
      pathInputs[p.join('.')] = absPath;
    });
    for (const m of metricsRaw) {
      if (outs[m] !== undefined) metrics.push(m);
      else {
        const k = Object.entries(outs).find(([, p]) => p === m)?.[0];
        if (!k) throw new UserError(`metrics: '${m}' is not an output of stage type '${module.type}' (outputs: ${Object.keys(outs).join(', ')})`, source.locate([...base, 'metrics']));
        metrics.push(k);
      }
    }
    plots = resolvePlots(plotsRaw, outs, true, (i) => source.locate([...base, 'plots', i]));
  } else {
    const entries: Array<[string, RawOut]> = Array.isArray(rawOuts) ? rawOuts.map((o) => [typeof o === 'string' ? o : o.path, o]) : Object.entries(rawOuts);
    entries.forEach(([name, o], i) => {
      outs[name] = typeof o === 'string' ? o : o.path;
      outsYaml[name] ??= Array.isArray(rawOuts) ? ['outs', i] : ['outs', name];
      if (typeof o === 'object' && o.persist) persist.push(name);
      if (typeof o === 'object' && o.cache === false) uncached.push(name);
    });
    metricsRaw.forEach((m, i) => {
      // An output, a file inside an output folder (`eval/metrics.json`), or an output of its own.
      const held = outputHolding(outs, m);
      if (held) metrics.push(held.sub ? `${held.output}/${held.sub}` : held.output);
      else {
        outs[m] = m;
        outsYaml[m] = ['metrics', i];
        metrics.push(m);
      }
    });
    plots = resolvePlots(plotsRaw, outs, false, (i) => source.locate([...base, 'plots', i]));
    for (const f of plots.flatMap((p) => p.files)) if (outs[f.output] === undefined) outs[f.output] = f.output;
    for (const [name, p] of Object.entries(outs)) {
      if (isAbsolute(p) || p.split(/[\\/]/).includes('..')) {
        throw new UserError(`outs: '${p}' must be a path inside the workspace (relative, without '..')`, source.locate([...base, ...(outsYaml[name] ?? ['outs'])]));
      }
      outs[name] = p.replace(/\/+$/, '');
    }
  }
  if (st.resources === undefined && module === undefined) resources = {};
  checkClusterResources(resources, source, [...base, 'resources']);

  const refs = findArtifactRefs([inputs, command, deps, env]);
  return {
    name: member.name,
    family,
    kind: module ? 'builtin' : 'command',
    type: module ? module.type : 'command',
    inputs,
    command,
    deps,
    outs,
    outsYaml,
    metrics,
    needs,
    env,
    envFromCaller,
    resources,
    ...(st.executor ? { executor: st.executor } : {}),
    ...(st.slurm ? { slurm: st.slurm } : {}),
    retries: st.retries ?? 0,
    paramsUsed,
    paramsDeclared,
    paramSources,
    plots,
    persist,
    uncached,
    alwaysRun: st.always_run === true,
    frozen: st.frozen === true,
    refs,
    pathInputs,
    hubInputs,
    worker: Boolean(module?.worker),
    wantsPipeline: Boolean(module?.wantsPipeline),
    yamlPath: base,
  };
}

/**
 * Schema errors of a stage's inputs. An error in a value that came from an overridden param is
 * reported against the override (`--set k=v`, or the --params file), naming the YAML line where
 * the param is used: the YAML is right, the value given on the command line is not.
 */
function inputErrors(errs: ErrorObject[], stage: string, base: PathSegment[], source: SourceDocument, withParams: Map<string, string[]>, overrides: ParamOverrides): UserErrors {
  const overrideOf = (e: ErrorObject): string | undefined => {
    const segs = e.instancePath.split('/').slice(1).map((x) => String(decodePointer(x)));
    for (let n = segs.length; n >= 0; n--) {
      for (const key of withParams.get(segs.slice(0, n).join('/')) ?? []) {
        const covers = (k: string) => k === key || key.startsWith(`${k}.`) || k.startsWith(`${key}.`);
        const set = [...(overrides.set ?? [])].reverse().find((o) => covers(parseSetOption(o)[0]));
        if (set) return `--set ${set}`;
        if (overrides.paramsFile && getDotted(resolveParams({}, { paramsFile: overrides.paramsFile }), key).found) return `--params ${overrides.paramsFile} (${key})`;
      }
    }
    return undefined;
  };
  const fromYaml = errs.filter((e) => !overrideOf(e));
  const out = fromYaml.length ? schemaErrors(fromYaml, [...base, 'with'], source, 'stage').errors : [];
  for (const e of errs) {
    const by = overrideOf(e);
    if (!by) continue;
    for (const u of schemaErrors([e], [...base, 'with'], source, 'stage').errors) {
      const at = u.location ? ` (stage '${stage}', used at ${u.location.file}:${u.location.line}:${u.location.column})` : ` (stage '${stage}')`;
      out.push(new UserError(`${by}: ${u.message}${at}`));
    }
  }
  return new UserErrors(out);
}

/** Compile a stage's `with:` schema as the engine checks it (the public test helper uses it too). */
export function compileStageSchema(module: StageModule): ValidateFunction {
  return ajv().compile({ ...module.inputSchema, $id: undefined });
}

/** `memory` and `time` are free text in the schema: parse them here for a message that says what is expected. */
function checkClusterResources(r: ResourceRequest, source: SourceDocument, at: PathSegment[]): void {
  for (const [key, parse] of [['memory', parseMemory], ['time', parseTimeLimit]] as const) {
    const v = r[key];
    if (v === undefined) continue;
    try {
      parse(v, `resources.${key}`);
    } catch (e) {
      if (e instanceof UserError) throw new UserError(e.message, source.locate([...at, key]));
      throw e;
    }
  }
}

function stageValidator(module: StageModule): ValidateFunction {
  let v = stageValidators.get(module.type);
  if (!v) {
    v = compileStageSchema(module);
    stageValidators.set(module.type, v);
  }
  return v;
}

/** Walk a value alongside its schema and report every string at a node marked PATH_KEYWORD. */
export function collectPathInputs(value: unknown, schema: unknown, path: string[], onPath: (path: string[], value: string, schema: Record<string, unknown>) => void): void {
  if (!schema || typeof schema !== 'object') return;
  const s = schema as Record<string, unknown>;
  if (s[PATH_KEYWORD] === true) {
    if (typeof value === 'string') onPath(path, value, s);
    else if (Array.isArray(value)) value.forEach((v, i) => typeof v === 'string' && onPath([...path, String(i)], v, s));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) if (typeof v === 'string') onPath([...path, k], v, s);
    return;
  }
  for (const key of ['oneOf', 'anyOf', 'allOf'] as const) {
    if (Array.isArray(s[key])) for (const sub of s[key] as unknown[]) collectPathInputs(value, sub, path, onPath);
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => collectPathInputs(v, s.items, [...path, String(i)], onPath));
    return;
  }
  if (value && typeof value === 'object') {
    const props = (s.properties ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(value)) {
      const sub = props[k] ?? s.additionalProperties;
      collectPathInputs(v, sub, [...path, k], onPath);
    }
  }
}

function checkReferences(stages: Map<string, StageSpec>, source: SourceDocument): void {
  const errors: UserError[] = [];
  for (const st of stages.values()) {
    for (const ref of st.refs) {
      const target = stages.get(ref.stage);
      if (!target) {
        errors.push(new UserError(`stage '${st.name}' refers to unknown stage '${ref.stage}'`, source.locate(st.yamlPath, 'key')));
        continue;
      }
      if (!(ref.output in target.outs)) {
        const kinds = Object.keys(target.outs);
        errors.push(
          new UserError(
            `stage '${st.name}' uses stages.${ref.stage}.outputs.${ref.output}, but '${ref.stage}' has no output '${ref.output}'${didYouMean(ref.output, kinds)}; its outputs: ${kinds.join(', ') || '(none)'}`,
            source.locate(st.yamlPath, 'key'),
          ),
        );
      }
    }
  }
  if (errors.length) throw new UserErrors(errors);
}
