// Stage keys and staleness. A key hashes everything that can change a stage's result: its type
// and code version (or command), resolved inputs and params, the content of every local file
// it reads, the content of every upstream artifact it reads, and the env vars it declares.
// Planning never runs anything; it only hashes (skipping unchanged files via the stat cache).
import { existsSync, lstatSync } from 'node:fs';
import { join, relative } from 'node:path';
import { canonicalJson, hashPath, sha256, UnhashablePathError } from '../cache/hash.js';
import type { RunRecord } from '../cache/store.js';
import type { LockStage } from '../cache/lockfile.js';
import { UserError, type SourceLocation } from '../errors.js';
import type { StageSpec } from '../pipeline/load.js';
import { describeRef, isArtifactPlaceholder, substituteArtifactRefs, substituteCommandRefs } from '../pipeline/template.js';
import { flattenKeys } from '../pipeline/params.js';
import { hubMissMessage } from '../pipeline/hub.js';
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
    // A reference to an upstream artifact is keyed through `spec.refs` (its content hash above).
    if (isArtifactPlaceholder(dep)) return;
    const norm = dep.replace(/^\.\//, '').replace(/\/+$/, '');
    const p = produced.get(norm);
    if (p) {
      const rec = upstream(p.stage);
      if (!rec) waiting.add(p.stage);
      else upstreamHashes[`${p.stage}.outputs.${p.output}${p.sub ? `/${p.sub}` : ''}`] = rec.outputs[p.output]?.hash ?? 'missing';
      return;
    }
    const at = () => ws.pipeline.source.locate([...spec.yamlPath, 'deps', i]);
    deps[norm] = hashInput(ws, join(ws.pipeline.dir, norm), `stage '${spec.name}': dep '${dep}'`, 'does not exist (and no stage produces it)', at);
  });
  for (const [inputPath, abs] of Object.entries(spec.pathInputs)) {
    const at = () => ws.pipeline.source.locate([...spec.yamlPath, 'with', ...inputPath.split('.')]);
    const hub = spec.hubInputs[inputPath];
    if (hub && !hub.dir) throw new UserError(`stage '${spec.name}': ${hubMissMessage(hub, `input '${inputPath}'`)}`, at());
    // A hub id is keyed by its name and its snapshot's content, not by where this machine caches it.
    deps[hub ? `hf:${hub.id}` : relative(ws.pipeline.dir, abs) || '.'] = hashInput(ws, abs, `stage '${spec.name}': input '${inputPath}'`, `names ${abs}, which does not exist`, at);
  }
  for (const n of spec.needs) {
    const rec = upstream(n);
    if (!rec) waiting.add(n);
    // A command stage's outputs are workspace files a stage that needs it may read (`cat counts-*.tab`):
    // they are part of the key, so status and run agree that it reruns when they change.
    else if (ws.pipeline.stages.get(n)?.kind === 'command') for (const [out, o] of Object.entries(rec.outputs)) upstreamHashes[`${n}.outputs.${out}`] = o.hash;
  }
  if (waiting.size) return { waitingFor: [...waiting] };

  const env: Record<string, string> = { ...spec.env };
  for (const name of spec.envFromCaller) env[name] = process.env[name] ?? '';
  const code = spec.kind === 'builtin' ? ws.registry.implementationHash(spec.type) : undefined;
  // Inputs as the user reads them in the lock file: references spelled out.
  const inputs = substituteArtifactRefs(spec.inputs, describeRef) as Record<string, unknown>;
  const command = spec.command !== undefined ? substituteCommandRefs(spec.command, describeRef) : undefined;
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

/** The content hash of a file or folder a stage reads, or a located error saying why it cannot be read. */
function hashInput(ws: Workspace, abs: string, what: string, missing: string, at: () => SourceLocation): string {
  try {
    return hashPath(abs, ws.statCache).hash;
  } catch (e) {
    if (e instanceof UnhashablePathError) throw new UserError(`${what}: ${e.message}`, at());
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UserError(`${what} ${(e as NodeJS.ErrnoException).path === abs ? missing : `cannot be read: ${(e as Error).message}`}`, at());
    if (code === 'EACCES' || code === 'EPERM') throw new UserError(`${what} cannot be read: permission denied (${(e as NodeJS.ErrnoException).path ?? abs})`, at());
    throw e;
  }
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
  /** The stored result the run reuses (up to date, or stale only in its workspace copy). */
  record?: RunRecord;
  lock?: LockStage;
  /** Command stage with a reused result: the outputs run copies back into the workspace. */
  restore?: string[];
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
  // A stage whose result is reused (even if its workspace copy must be put back) feeds its dependents.
  const upstream: UpstreamLookup = (name) => plans.get(name)?.record;
  for (const name of ws.dag.order) {
    if (opts.only && !opts.only.has(name)) continue;
    const spec = ws.pipeline.stages.get(name)!;
    // A frozen stage keeps its lock entry's result (the previous lock is read only when one is frozen).
    const frozenAt = spec.frozen ? ws.previousLock?.stages[name] : undefined;
    if (frozenAt) {
      const plan = planFrozen(ws, spec, frozenAt, upstream);
      // Its workspace outputs are put back from the locked result like any cached stage's.
      if (spec.kind === 'command' && plan.record) checkWorkspaceOutputs(ws, spec, plan);
      plans.set(name, plan);
      continue;
    }
    const plan = planStage(ws, spec, upstream, forced(name));
    if (spec.kind === 'command' && !forced(name)) checkWorkspaceOutputs(ws, spec, plan);
    plans.set(name, plan);
  }
  ws.store.saveRecordCache();
  return plans;
}

function planStage(ws: Workspace, spec: StageSpec, upstream: UpstreamLookup, forced: boolean): StagePlan {
  const name = spec.name;
  // The previous lock is read only to explain a stale stage (parsing it costs when all are cached).
  const previous = () => ws.previousLock?.stages[name];
  const km = computeKey(ws, spec, upstream);
  if ('waitingFor' in km) return { name, status: 'stale', key: null, reasons: explainChange(previous(), undefined, spec, km.waitingFor) };
  if (forced || spec.alwaysRun) return { name, status: 'stale', key: km.key, reasons: [forced ? { kind: 'forced' } : { kind: 'always-run' }], lock: km.lock };
  const record = ws.store.readRecord(km.key);
  const damage = record ? ws.store.verify(record) : null;
  const uncached = record && !damage ? uncachedOutputChanges(ws, spec, record) : [];
  if (record && !damage && uncached.length === 0) return { name, status: 'up-to-date', key: km.key, reasons: [], record, lock: km.lock };
  if (uncached.length) return { name, status: 'stale', key: km.key, reasons: uncached, lock: km.lock };
  const prev = previous();
  let reasons: StaleReason[];
  if (prev && prev.key === km.key) reasons = [record ? { kind: 'result-damaged', detail: damage! } : { kind: 'result-missing' }];
  else reasons = explainChange(prev, km.lock, spec, []);
  if (!record && prev && prev.key !== km.key && reasons.length === 0) reasons = [{ kind: 'definition' }];
  return { name, status: 'stale', key: km.key, reasons, lock: km.lock };
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
    const abs = join(ws.runDir, rel);
    if (!existsSync(abs)) out.push({ kind: 'uncached-output', path: rel, change: 'missing' });
    else if (hashPath(abs, ws.statCache).hash !== record.outputs[name]?.hash) out.push({ kind: 'uncached-output', path: rel, change: 'changed' });
  }
  return out;
}

/**
 * The workspace is the user's: a cached command stage whose workspace outputs are missing or hold
 * another run's result is stale (run copies its result back: `restore`); an output fisherflow did
 * not write is reported on any stage that would write it (run refuses to, unless --force).
 */
function checkWorkspaceOutputs(ws: Workspace, spec: StageSpec, plan: StagePlan): void {
  const states = workspaceOutputStates(ws, spec, plan.record);
  const before = plan.reasons.length; // a frozen stage's plan already holds its `frozen` note
  const restore: string[] = [];
  for (const s of states) {
    if (s.state === 'modified') plan.reasons.push({ kind: 'output-modified', output: s.output, path: s.path });
    else if (plan.record && s.state !== 'ok') {
      plan.reasons.push({ kind: s.state === 'missing' ? 'output-missing' : 'output-outdated', output: s.output, path: s.path });
      restore.push(s.output);
    }
  }
  if (restore.length) plan.restore = restore;
  if (plan.reasons.length > before) plan.status = 'stale';
}

export type OutputState = 'ok' | 'missing' | 'outdated' | 'modified';

/**
 * Each workspace output of a command stage: 'ok' (the stored result's content), 'missing',
 * 'outdated' (content fisherflow wrote: the lock file's, what it last put there, or a crashed
 * run's) or 'modified' (anything else: the user's).
 */
export function workspaceOutputStates(ws: Workspace, spec: StageSpec, record?: RunRecord): Array<{ output: string; path: string; state: OutputState }> {
  if (spec.kind !== 'command') return [];
  const out: Array<{ output: string; path: string; state: OutputState }> = [];
  for (const [name, rel] of Object.entries(spec.outs)) {
    if (spec.uncached.includes(name)) continue; // `cache: false`: not in the store (see uncachedOutputChanges)
    const abs = join(ws.runDir, rel);
    let hash: string | null;
    try {
      hash = hashPath(abs, ws.statCache).hash;
    } catch {
      // Gone, or there but unreadable as content (a dangling link, no permission): then it is not fisherflow's.
      hash = lstatSync(abs, { throwIfNoEntry: false }) ? '' : null;
    }
    let state: OutputState;
    if (record && hash === record.outputs[name]?.hash) state = 'ok';
    else if (hash === null) state = 'missing';
    else if (hash !== '' && (ws.previousLock?.stages[spec.name]?.outs?.[name]?.hash === hash || ws.outputs.lastWritten(abs) === hash)) state = 'outdated';
    else if (ws.outputs.isPending(abs)) state = 'outdated';
    else state = 'modified';
    out.push({ output: name, path: rel, state });
  }
  return out;
}

/** Workspace outputs of a cached command stage that are missing or differ from the store. */
export function outputsToRestore(ws: Workspace, spec: StageSpec, record: RunRecord): string[] {
  return workspaceOutputStates(ws, spec, record).filter((s) => s.state !== 'ok').map((s) => s.output);
}
