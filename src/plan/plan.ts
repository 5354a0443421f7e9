// Stage keys and staleness. A key hashes everything that can change a stage's result: its type
// and code version (or command), resolved inputs and params, the content of every local file
// it reads, the content of every upstream artifact it reads, and the env vars it declares.
// Planning never runs anything; it only hashes (skipping unchanged files via the stat cache).
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { canonicalJson, hashPath, sha256 } from '../cache/hash.js';
import type { RunRecord } from '../cache/store.js';
import type { LockStage } from '../cache/lockfile.js';
import { UserError } from '../errors.js';
import type { StageSpec } from '../pipeline/load.js';
import { describeRef, substituteArtifactRefs } from '../pipeline/template.js';
import { flattenKeys } from '../pipeline/params.js';
import type { Workspace } from './workspace.js';
import type { ChangeKind, StaleReason } from './reasons.js';

/** Bump when the meaning of a key changes, so old results are not reused. */
const KEY_VERSION = 1;

export interface KeyMaterial {
  key: string;
  lock: LockStage;
}

export type UpstreamLookup = (stage: string) => RunRecord | undefined;

/**
 * The stage's key, or the list of upstream stages whose results are not known yet (they are
 * stale and will run first).
 */
export function computeKey(ws: Workspace, spec: StageSpec, upstream: UpstreamLookup): KeyMaterial | { waitingFor: string[] } {
  const waiting = new Set<string>();
  const upstreamHashes: Record<string, string> = {};
  for (const ref of spec.refs) {
    const rec = upstream(ref.stage);
    if (!rec) waiting.add(ref.stage);
    else upstreamHashes[`${ref.stage}.outputs.${ref.output}`] = rec.outputs[ref.output]?.hash ?? 'missing';
  }
  const deps: Record<string, string> = {};
  const produced = ws.dag.producedDeps.get(spec.name) ?? new Map();
  spec.deps.forEach((dep, i) => {
    const norm = dep.replace(/^\.\//, '').replace(/\/+$/, '');
    const p = produced.get(norm);
    if (p) {
      const rec = upstream(p.stage);
      if (!rec) waiting.add(p.stage);
      else upstreamHashes[`${p.stage}.outputs.${p.output}${p.sub ? `/${p.sub}` : ''}`] = rec.outputs[p.output]?.hash ?? 'missing';
      return;
    }
    const abs = join(ws.pipeline.dir, norm);
    if (!existsSync(abs)) {
      throw new UserError(`stage '${spec.name}': dep '${dep}' does not exist (and no stage produces it)`, ws.pipeline.source.locate([...spec.yamlPath, 'deps', i]));
    }
    deps[norm] = hashPath(abs, ws.statCache).hash;
  });
  for (const [inputPath, abs] of Object.entries(spec.pathInputs)) {
    if (!existsSync(abs)) {
      throw new UserError(`stage '${spec.name}': input '${inputPath}' names ${abs}, which does not exist`, ws.pipeline.source.locate([...spec.yamlPath, 'with', ...inputPath.split('.')]));
    }
    deps[relative(ws.pipeline.dir, abs) || '.'] = hashPath(abs, ws.statCache).hash;
  }
  for (const n of spec.needs) if (!upstream(n)) waiting.add(n);
  if (waiting.size) return { waitingFor: [...waiting] };

  const env: Record<string, string> = { ...spec.env };
  for (const name of spec.envFromCaller) env[name] = process.env[name] ?? '';
  const code = spec.kind === 'builtin' ? ws.registry.implementationHash(spec.type) : undefined;
  // Inputs as the user reads them in the lock file: references spelled out.
  const inputs = substituteArtifactRefs(spec.inputs, describeRef) as Record<string, unknown>;
  const command = spec.command !== undefined ? (substituteArtifactRefs(spec.command, describeRef) as string) : undefined;
  const keyed = {
    v: KEY_VERSION,
    type: spec.type,
    code,
    cmd: command,
    inputs,
    deps,
    upstream: upstreamHashes,
    env,
    outs: spec.outs,
    // Only when declared, so that stages without `params:` keep the keys they always had.
    ...(hasKeys(spec.paramsDeclared) ? { params: spec.paramsDeclared } : {}),
    ...(spec.uncached.length ? { uncached: spec.uncached } : {}),
  };
  const key = sha256(canonicalJson(keyed));
  // Fields in sorted order, as the lock file lists them: its writer then copies nothing.
  const lock = {} as LockStage;
  if (command !== undefined) lock.cmd = command;
  if (code) lock.code = code;
  if (hasKeys(deps)) lock.deps = deps;
  if (hasKeys(env)) lock.env = env;
  if (hasKeys(inputs)) lock.inputs = inputs;
  lock.key = key;
  if (spec.metrics.length) lock.metrics = spec.metrics;
  lock.outs = {};
  if (hasKeys(spec.paramsUsed)) lock.params = spec.paramsUsed;
  lock.type = spec.type;
  if (hasKeys(upstreamHashes)) lock.upstream = upstreamHashes;
  return { key, lock };
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

export type StageStatus = 'up-to-date' | 'stale';

export interface StagePlan {
  name: string;
  status: StageStatus;
  /** null when an upstream stage must run first. */
  key: string | null;
  reasons: StaleReason[];
  record?: RunRecord;
  lock?: LockStage;
}

export interface PlanOptions {
  /** true: force every stage; a list: force these (and so their dependents rerun). */
  force?: boolean | string[];
  /** Plan only these stages (closed upstream: see upstreamClosure), e.g. the targets of `run X`. */
  only?: ReadonlySet<string>;
}

function changeOf(inOld: boolean, inNew: boolean): ChangeKind {
  return !inOld ? 'added' : !inNew ? 'removed' : 'changed';
}

/** Why a stage differs from what the lock file says ran last. */
export function explainChange(prev: LockStage | undefined, cur: LockStage | undefined, spec: StageSpec, waitingFor: string[]): StaleReason[] {
  if (!prev) return [{ kind: 'never-ran' }];
  const reasons: StaleReason[] = [];
  for (const w of waitingFor) reasons.push({ kind: 'upstream', stage: w });
  if (prev.type !== spec.type) reasons.push({ kind: 'type', from: prev.type, to: spec.type });
  if (cur) {
    if (prev.code && cur.code && prev.code !== cur.code) reasons.push({ kind: 'code', type: spec.type, from: prev.code, to: cur.code });
  }
  const pp = prev.params ?? {};
  const cp = spec.paramsUsed;
  let paramChanged = false;
  for (const k of new Set([...Object.keys(pp), ...Object.keys(cp)])) {
    if (canonicalJson(pp[k]) !== canonicalJson(cp[k])) {
      const file = spec.paramSources[k];
      reasons.push(file ? { kind: 'params-file', file, name: k, from: pp[k], to: cp[k] } : { kind: 'param', name: k, from: pp[k], to: cp[k] });
      paramChanged = true;
    }
  }
  // A changed param already explains the command and inputs it was substituted into.
  if (cur && !paramChanged && (prev.cmd ?? '') !== (cur.cmd ?? '')) reasons.push({ kind: 'command', from: prev.cmd ?? '', to: cur.cmd ?? '' });
  if (cur && !paramChanged) {
    const a = flattenKeys(prev.inputs ?? {});
    const b = flattenKeys(cur.inputs ?? {});
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (canonicalJson(a[k]) !== canonicalJson(b[k])) reasons.push({ kind: 'input', name: k, from: a[k], to: b[k] });
    }
  }
  if (cur) {
    const pd = prev.deps ?? {};
    const cd = cur.deps ?? {};
    for (const k of new Set([...Object.keys(pd), ...Object.keys(cd)])) {
      if (pd[k] !== cd[k]) reasons.push({ kind: 'dep', path: k, change: changeOf(k in pd, k in cd) });
    }
    const pu = prev.upstream ?? {};
    const cu = cur.upstream ?? {};
    for (const k of new Set([...Object.keys(pu), ...Object.keys(cu)])) {
      if (pu[k] !== cu[k]) reasons.push({ kind: 'upstream-output', output: k, change: changeOf(k in pu, k in cu) });
    }
    const pe = prev.env ?? {};
    const ce = cur.env ?? {};
    for (const k of new Set([...Object.keys(pe), ...Object.keys(ce)])) {
      if (pe[k] !== ce[k]) reasons.push({ kind: 'env', name: k, from: pe[k], to: ce[k] });
    }
    if (reasons.length === 0 && prev.key !== cur.key) reasons.push({ kind: 'definition' });
  }
  return reasons;
}

/** Plan every stage in DAG order, as if upstream stale stages will produce new results. */
export function planPipeline(ws: Workspace, opts: PlanOptions = {}): Map<string, StagePlan> {
  const plans = new Map<string, StagePlan>();
  const forced = (name: string) => opts.force === true || (Array.isArray(opts.force) && opts.force.includes(name));
  const upstream: UpstreamLookup = (name) => {
    const p = plans.get(name);
    return p && p.status === 'up-to-date' ? p.record : undefined;
  };
  for (const name of ws.dag.order) {
    if (opts.only && !opts.only.has(name)) continue;
    const spec = ws.pipeline.stages.get(name)!;
    // The previous lock is read only to explain a stale stage (parsing it costs when all are cached).
    const previous = () => ws.previousLock?.stages[name];
    if (spec.frozen && previous()) {
      plans.set(name, planFrozen(ws, spec, previous()!, upstream));
      continue;
    }
    const km = computeKey(ws, spec, upstream);
    if ('waitingFor' in km) {
      plans.set(name, { name, status: 'stale', key: null, reasons: explainChange(previous(), undefined, spec, km.waitingFor) });
      continue;
    }
    if (forced(name) || spec.alwaysRun) {
      plans.set(name, { name, status: 'stale', key: km.key, reasons: [forced(name) ? { kind: 'forced' } : { kind: 'always-run' }], lock: km.lock });
      continue;
    }
    const record = ws.store.readRecord(km.key);
    const damage = record ? ws.store.verify(record) : null;
    const uncached = record && !damage ? uncachedOutputChanges(ws, spec, record) : [];
    if (record && !damage && uncached.length === 0) {
      plans.set(name, { name, status: 'up-to-date', key: km.key, reasons: [], record, lock: km.lock });
      continue;
    }
    if (uncached.length) {
      plans.set(name, { name, status: 'stale', key: km.key, reasons: uncached, lock: km.lock });
      continue;
    }
    const prev = previous();
    let reasons: StaleReason[];
    if (prev && prev.key === km.key) reasons = [record ? { kind: 'result-damaged', detail: damage! } : { kind: 'result-missing' }];
    else reasons = explainChange(prev, km.lock, spec, []);
    if (!record && prev && prev.key !== km.key && reasons.length === 0) reasons = [{ kind: 'definition' }];
    plans.set(name, { name, status: 'stale', key: km.key, reasons, lock: km.lock });
  }
  ws.store.saveRecordCache();
  return plans;
}

/**
 * A frozen stage keeps the result its lock entry names, whatever changed; the reasons it would
 * otherwise rerun are shown under `frozen`. Without that result in the store it cannot run
 * (the run refuses, see runPipeline), and is stale.
 */
function planFrozen(ws: Workspace, spec: StageSpec, prev: LockStage, upstream: UpstreamLookup): StagePlan {
  const name = spec.name;
  const record = ws.store.readRecord(prev.key);
  const damage = record ? ws.store.verify(record) : null;
  if (!record || damage) return { name, status: 'stale', key: prev.key, reasons: [record ? { kind: 'result-damaged', detail: damage! } : { kind: 'result-missing' }] };
  let would: StaleReason[];
  try {
    const km = computeKey(ws, spec, upstream);
    would = 'waitingFor' in km ? explainChange(prev, undefined, spec, km.waitingFor) : km.key === prev.key ? [] : explainChange(prev, km.lock, spec, []);
  } catch (e) {
    // A dep that is gone does not matter to a stage that will not run.
    if (!(e instanceof UserError)) throw e;
    would = [{ kind: 'definition' }];
  }
  return { name, status: 'up-to-date', key: prev.key, reasons: would.length ? [{ kind: 'frozen', reasons: would }] : [], record, lock: prev };
}

/** `cache: false` outputs of a result that are missing from the workspace or differ from what the stage wrote. */
export function uncachedOutputChanges(ws: Workspace, spec: StageSpec, record: RunRecord): StaleReason[] {
  const out: StaleReason[] = [];
  for (const name of spec.uncached) {
    const rel = spec.outs[name];
    const abs = join(ws.pipeline.dir, rel);
    if (!existsSync(abs)) out.push({ kind: 'uncached-output', path: rel, change: 'missing' });
    else if (hashPath(abs, ws.statCache).hash !== record.outputs[name]?.hash) out.push({ kind: 'uncached-output', path: rel, change: 'changed' });
  }
  return out;
}

/** Workspace outputs of a cached command stage that are missing or differ from the store. */
export function outputsToRestore(ws: Workspace, spec: StageSpec, record: RunRecord): string[] {
  if (spec.kind !== 'command') return [];
  const out: string[] = [];
  for (const [name, rel] of Object.entries(spec.outs)) {
    if (spec.uncached.includes(name)) continue; // not in the store
    const abs = join(ws.pipeline.dir, rel);
    const want = record.outputs[name]?.hash;
    try {
      // Missing (ENOENT), a symbolic link or different content: restore it.
      if (hashPath(abs, ws.statCache).hash !== want) out.push(name);
    } catch {
      out.push(name);
    }
  }
  return out;
}
