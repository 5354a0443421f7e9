// The run loop: plan, then start each stale stage as soon as its upstream stages are done,
// within the resource pool (CPU slots, per-device GPU queues), and commit each result to the
// store as it completes. A downstream key is recomputed from its upstream's actual outputs, so an
// upstream rerun that reproduces the same bytes leaves its dependents cached.
import { existsSync, rmSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, join, relative } from 'node:path';
import PQueue from 'p-queue';
import { copyPath, makeWritable, type OutputRecord, type RunRecord } from '../cache/store.js';
import { sameEntry, writeLock, type LockFile, type LockStage } from '../cache/lockfile.js';
import { canonicalJson, hashPath } from '../cache/hash.js';
import { WorkspaceLock } from '../cache/workspace-lock.js';
import { subDag, upstreamClosure } from '../graph/dag.js';
import { writeEffectiveParams } from './effective-params.js';
import { collectPathInputs, type StageSpec } from '../pipeline/load.js';
import { substituteArtifactRefs, substituteCommandRefs } from '../pipeline/template.js';
import { computeKey, outputsToRestore, planPipeline, uncachedOutputChanges, type StagePlan } from '../plan/plan.js';
import type { Workspace } from '../plan/workspace.js';
import { formatReasons, type StaleReason } from '../plan/reasons.js';
import { ResourcePool } from '../schedule/resources.js';
import type { GpuDevice } from '../schedule/devices.js';
import { LocalExecutor } from '../exec/local-executor.js';
import { onStageGroupStart } from '../exec/process-tree.js';
import type { Executor, StageJob } from '../exec/executor.js';
import { StageRunError } from '../exec/errors.js';
import { logTail } from '../exec/log-file.js';
import type { PipelineSnapshot } from '../stage/api.js';
import type { RemoteFetch } from '../cache/remote/remote-results.js';
import { UserError, UserErrors } from '../errors.js';
import type { RunEventSink, StageOutcome } from './events.js';
import { pipelineSnapshot } from './snapshot.js';
import { stageExecutors, type ExecutorSettings, type StageExecutors } from './executors.js';
import { hubFallbackNote } from '../pipeline/hub.js';

export interface RunOptions {
  force?: boolean | string[];
  /** Run only what these stages need (them and their upstream stages); default: every stage. */
  targets?: string[];
  dryRun?: boolean;
  jobs?: number;
  keepGoing?: boolean;
  gpus?: GpuDevice[];
  jobsPerGpu?: number;
  signal?: AbortSignal;
  emit?: RunEventSink;
  /** Run built-in worker stages in this process (tests, exec-stage). */
  inProcess?: boolean;
  /** Where stages run; default: a LocalExecutor over this run's resource pool. */
  executor?: Executor;
  /** A shared cache asked for each stale stage's result before it runs. */
  remote?: RemoteFetch;
  /** Which stages run elsewhere (Slurm): `--executor`, the project config, each stage's `executor:`. */
  executors?: ExecutorSettings;
}

export interface StageResult {
  name: string;
  status: StageOutcome;
  key: string | null;
  seconds: number;
  error?: string;
  reasons?: StaleReason[];
}

export interface RunResult {
  stages: StageResult[];
  ok: boolean;
  interrupted: boolean;
  lockWritten: boolean;
  /** Every stage's result record, for stages that ran or were cached. */
  records: Map<string, RunRecord>;
}

/** Replace `${{ stages.X.outputs.Y }}` placeholders by real paths. */
export function resolveInputs(ws: Workspace, spec: StageSpec, records: Map<string, RunRecord>, forCommand: boolean): { inputs: Record<string, unknown>; command?: string } {
  const pathOf = (ref: { stage: string; output: string }): string => {
    const up = ws.pipeline.stages.get(ref.stage)!;
    const rec = records.get(ref.stage)!;
    // Command stages read upstream command outputs where they live in the workspace.
    if (forCommand && up.kind === 'command') return up.outs[ref.output];
    // A `cache: false` output lives only there.
    if (up.uncached.includes(ref.output)) return join(ws.pipeline.dir, up.outs[ref.output]);
    return ws.store.outputPath(rec, ref.output);
  };
  const inputs = substituteArtifactRefs(spec.inputs, pathOf) as Record<string, unknown>;
  if (spec.kind === 'builtin') {
    const mod = ws.pipeline.modules.get(spec.type)!;
    collectPathInputs(inputs, mod.inputSchema, [], (path, value) => {
      if (isAbsolute(value)) return;
      // As planned: a relative path, or the snapshot a hub id resolved to.
      setAt(inputs, path, spec.pathInputs[path.join('.')] ?? join(ws.pipeline.dir, value));
    });
  }
  const command = spec.command !== undefined ? substituteCommandRefs(spec.command, pathOf) : undefined;
  return { inputs, command };
}

/**
 * One note per hub id for which the vendored tokenizer stands in (however many stages use it),
 * when a stage that reads it will run: a run that reuses every result has nothing to say.
 */
function hubFallbackNotes(ws: Workspace, plans: Map<string, StagePlan>): string[] {
  const notes = new Map<string, string>();
  for (const spec of ws.pipeline.stages.values()) {
    if (plans.get(spec.name)?.status === 'up-to-date') continue;
    for (const [input, h] of Object.entries(spec.hubInputs)) if (h.fallback && !notes.has(h.id)) notes.set(h.id, hubFallbackNote(h, input));
  }
  return [...notes.values()];
}

function setAt(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur: Record<string, unknown> = obj;
  for (const p of path.slice(0, -1)) cur = cur[p] as Record<string, unknown>;
  cur[path[path.length - 1]] = value;
}

export async function runPipeline(whole: Workspace, opts: RunOptions = {}): Promise<RunResult> {
  const emit = opts.emit ?? (() => {});
  const t0 = performance.now();
  // `run TARGET...`: the targets and what they need, nothing else (the lock keeps other entries).
  const only = opts.targets ? upstreamClosure(whole.dag, opts.targets) : undefined;
  const ws: Workspace = only ? { ...whole, dag: subDag(whole.dag, only) } : whole;
  // A run plans holding the workspace lock, after putting back what a crashed run left half-written.
  const wsLock = opts.dryRun ? undefined : new WorkspaceLock(join(ws.root, '.fisherflow', 'run.lock'));
  wsLock?.acquire(`fisherflow run ${ws.label}`, (m) => emit({ type: 'note', message: m }));
  // The lock records the stage process groups this run starts: a takeover kills what is left.
  const stopRecording = wsLock ? onStageGroupStart((g) => wsLock.recordGroup(g)) : undefined;
  try {
    if (wsLock) {
      ws.store.registerLockFile(ws.root, ws.lockPath);
      for (const message of ws.outputs.recover()) emit({ type: 'note', message });
    }
    return await planAndExecute(ws, only, opts, emit, t0);
  } finally {
    if (wsLock) {
      stopRecording!();
      ws.statCache.save();
      try {
        ws.outputs.save();
      } finally {
        wsLock.release();
      }
    }
  }
}

async function planAndExecute(ws: Workspace, only: Set<string> | undefined, opts: RunOptions, emit: RunEventSink, t0: number): Promise<RunResult> {
  const plans = planPipeline(ws, { force: opts.force, only });
  for (const message of hubFallbackNotes(ws, plans)) emit({ type: 'note', message });
  // The workspace is the user's: an output fisherflow did not write is not replaced without --force.
  if (!opts.dryRun) {
    const theirs: UserError[] = [];
    for (const p of plans.values()) {
      const spec = ws.pipeline.stages.get(p.name)!;
      for (const r of p.reasons) {
        if (r.kind !== 'output-modified') continue;
        theirs.push(
          new UserError(
            `stage '${p.name}': ${r.path} was changed since fisherflow wrote it, or was not written by fisherflow; not overwriting it. Move it away, or run with --force ${p.name} to replace it`,
            ws.pipeline.source.locate([...spec.yamlPath, ...(spec.outsYaml[r.output] ?? ['outs'])]),
          ),
        );
      }
    }
    if (theirs.length) throw new UserErrors(theirs);
  }
  emit({
    type: 'plan',
    stages: ws.dag.order.map((n) => {
      const p = plans.get(n)!;
      return { name: n, status: p.record ? 'cached' : 'stale', reasons: p.reasons };
    }),
  });

  const pool = new ResourcePool({ cpuSlots: opts.jobs ?? availableParallelism(), devices: opts.gpus ?? [], jobsPerGpu: opts.jobsPerGpu });
  const executors = await stageExecutors(ws, opts.executor ?? new LocalExecutor({ pool }), opts.executors, (message) => emit({ type: 'note', message }));
  // Requests that can never be met fail before anything runs.
  const impossible: UserError[] = [];
  for (const n of ws.dag.order) {
    if (plans.get(n)!.record) continue;
    const spec = ws.pipeline.stages.get(n)!;
    if (spec.frozen && ws.previousLock?.stages[n]) {
      impossible.push(new UserError(`stage '${n}' is frozen, but the result its lock entry names (key ${ws.previousLock.stages[n].key.slice(0, 12)}) is not in the store (${formatReasons(plans.get(n)!.reasons).join('; ')})`, ws.pipeline.source.locate([...spec.yamlPath, 'frozen']), 'remove `frozen: true` to compute it again'));
      continue;
    }
    const msg = executors.of(spec).check({ stage: n, work: { kind: 'command', command: '' }, cwd: ws.pipeline.dir, resources: spec.resources, logFile: '' });
    if (msg) impossible.push(new UserError(msg, ws.pipeline.source.locate([...spec.yamlPath, 'resources'])));
  }
  if (impossible.length) throw new UserErrors(impossible);

  if (opts.dryRun) {
    return {
      ok: true,
      interrupted: false,
      lockWritten: false,
      records: new Map(),
      stages: ws.dag.order.map((n) => {
        const p = plans.get(n)!;
        return { name: n, status: p.record ? 'cached' : 'skipped', key: p.key, seconds: 0, reasons: p.reasons };
      }),
    };
  }
  let restoreParams = () => {};
  try {
    // Commands read params files themselves: they must hold the values --set/--params gave.
    if (ws.dag.order.some((n) => plans.get(n)!.status === 'stale' && ws.pipeline.stages.get(n)!.kind === 'command')) {
      restoreParams = writeEffectiveParams(ws, (m) => emit({ type: 'note', message: m }));
    }
    return await execute(ws, plans, pool, executors, opts, emit, t0);
  } finally {
    restoreParams();
  }
}

async function execute(ws: Workspace, plans: Map<string, StagePlan>, pool: ResourcePool, executors: StageExecutors, opts: RunOptions, emit: RunEventSink, t0: number): Promise<RunResult> {
  const { pipeline, dag, store } = ws;
  const records = new Map<string, RunRecord>();
  const lockEntries = new Map<string, LockStage>();
  const results = new Map<string, StageResult>();
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let stopLaunching = false;
  let interrupted = false;
  // Forced: --force, and always_run stages; never a frozen one.
  const forcedSet = new Set([...(opts.force === true ? dag.order : Array.isArray(opts.force) ? opts.force : []), ...dag.order.filter((n) => pipeline.stages.get(n)!.alwaysRun)]);
  for (const n of dag.order) if (pipeline.stages.get(n)!.frozen) forcedSet.delete(n);
  const snapshotBase = pipelineSnapshot(ws, plans);

  // Longest path to a sink first: keeps the critical path moving.
  const depth = new Map<string, number>();
  for (const n of [...dag.order].reverse()) depth.set(n, 1 + Math.max(0, ...[...dag.downstream.get(n)!].map((d) => depth.get(d)!)));
  // p-queue orders ready stages (critical path first) and bounds how many wait on the pool at
  // once; the pool does the actual admission (CPU slots, devices, memory packing), so the bound
  // leaves room for several memory-packed stages per device.
  const queue = new PQueue({ concurrency: Math.max(1, pool.cpuSlots + (opts.gpus?.length ?? 0) * Math.max(16, opts.jobsPerGpu ?? 1) + executors.remoteSlots) });

  const remaining = new Map(dag.order.map((n) => [n, dag.upstream.get(n)!.size]));
  let resolveDone!: () => void;
  const allDone = new Promise<void>((r) => (resolveDone = r));
  let finished = 0;

  const finish = (name: string, r: StageResult) => {
    results.set(name, r);
    finished++;
    if (r.status === 'ran' || r.status === 'cached') {
      for (const d of dag.downstream.get(name)!) {
        const k = remaining.get(d)! - 1;
        remaining.set(d, k);
        if (k === 0) ready.push(d);
      }
    } else {
      // Everything downstream of a failed or skipped stage is skipped.
      for (const d of dag.downstream.get(name)!) {
        if (!results.has(d) && !skipping.has(d)) {
          skipping.add(d);
          toSkip.push([d, `upstream stage '${name}' ${r.status}`]);
        }
      }
    }
    if (finished === dag.order.length) resolveDone();
    drain();
  };
  const skipping = new Set<string>();
  // Ready stages wait here and are drained iteratively: a long chain of cached stages would
  // otherwise recurse schedule → finish → schedule thousands of frames deep.
  const ready: string[] = [];
  let readyHead = 0;
  const toSkip: Array<[string, string]> = [];
  let draining = false;
  const drain = () => {
    if (draining) return;
    draining = true;
    try {
      while (readyHead < ready.length || toSkip.length) {
        if (toSkip.length) {
          const [n, why] = toSkip.pop()!;
          if (!results.has(n)) skipStage(n, why);
        } else schedule(ready[readyHead++]);
      }
    } finally {
      draining = false;
    }
  };
  const skipStage = (name: string, why: string) => {
    skipping.add(name);
    emit({ type: 'end', stage: name, status: 'skipped', seconds: 0, error: why });
    finish(name, { name, status: 'skipped', key: null, seconds: 0, error: why });
  };

  const schedule = (name: string) => {
    if (stopLaunching) {
      skipStage(name, interrupted ? 'run interrupted' : 'run stopped after a failure');
      return;
    }
    const spec = pipeline.stages.get(name)!;
    // The plan already keyed and verified a cached stage; while its upstream stages ended with the
    // very records the plan saw, its key and record stand (10,000 cached stages: no second pass).
    const planned = plans.get(name);
    // A frozen stage keeps its planned (locked) result whatever its upstream stages did.
    const asPlanned = planned?.record && planned.lock && (spec.frozen || [...dag.upstream.get(name)!].every((u) => records.get(u) === plans.get(u)?.record));
    const km = asPlanned ? { key: planned.key!, lock: planned.lock! } : computeKey(ws, spec, (n) => records.get(n));
    if ('waitingFor' in km) throw new Error(`internal: ${name} scheduled before ${km.waitingFor.join(', ')}`);
    if (!forcedSet.has(name)) {
      const rec = asPlanned ? planned.record : store.readRecord(km.key);
      if (rec && (asPlanned || (!store.verify(rec) && uncachedOutputChanges(ws, spec, rec).length === 0))) {
        // The plan already compared a planned stage's workspace outputs with its result.
        useResult(name, spec, km, rec, asPlanned ? planned.restore ?? [] : undefined);
        return;
      }
      if (opts.remote) {
        void fetchFromRemote(opts.remote, name, spec, km);
        return;
      }
    }
    void queue.add(() => runOne(name, spec, km.key, km.lock), { priority: depth.get(name) });
  };

  /**
   * A stage whose result is in the store (cached, or just fetched): restore its workspace outputs
   * (`restore`: those the plan found missing or outdated) and finish it.
   */
  const useResult = (name: string, spec: StageSpec, km: { key: string; lock: LockStage }, rec: RunRecord, restore?: string[]) => {
    try {
      for (const out of restore ?? outputsToRestore(ws, spec, rec)) {
        const dest = join(ws.runDir, spec.outs[out]);
        ws.outputs.place(store.outputPath(rec, out), dest, rec.outputs[out].hash);
        ws.statCache.forget(dest);
        emit({ type: 'note', stage: name, message: `restored ${spec.outs[out]} from the store` });
      }
    } catch (e) {
      emit({ type: 'note', stage: name, message: `could not restore outputs: ${(e as Error).message}` });
    }
    records.set(name, rec);
    // The lock file's own entry when it says exactly this (the unchanged-lock check below
    // compares entries by identity); an entry edited by hand that kept its key is rewritten.
    const prevEntry = ws.previousLock?.stages[name];
    const entry = withOuts(km.lock, rec);
    lockEntries.set(name, prevEntry && prevEntry.key === km.key && sameEntry(prevEntry, entry) ? prevEntry : entry);
    emit({ type: 'end', stage: name, status: 'cached', seconds: 0 });
    finish(name, { name, status: 'cached', key: km.key, seconds: 0 });
  };

  /** Before running a stale stage, fetch its result from the remote if it has one (verified); else run it. */
  const fetchFromRemote = async (remote: RemoteFetch, name: string, spec: StageSpec, km: { key: string; lock: LockStage }) => {
    let rec: RunRecord | undefined;
    try {
      rec = stopLaunching ? undefined : await remote.fetch(km.key, name);
    } catch (e) {
      emit({ type: 'note', stage: name, message: `remote '${remote.name}' failed (${(e as Error).message}); running the stage here` });
    }
    // A `cache: false` output is nowhere but in the workspace: without it there, the stage runs.
    if (rec && !stopLaunching && uncachedOutputChanges(ws, spec, rec).length === 0) useResult(name, spec, km, rec);
    else void queue.add(() => runOne(name, spec, km.key, km.lock), { priority: depth.get(name) });
  };

  const runOne = async (name: string, spec: StageSpec, key: string, lock: LockStage) => {
    if (stopLaunching) {
      skipStage(name, interrupted ? 'run interrupted' : 'run stopped after a failure');
      return;
    }
    let started = performance.now();
    // Durations count from the stage's start (its resources granted), not from its queueing.
    let startSeen = false;
    const emitStage = (e: Parameters<RunEventSink>[0]) => {
      if (e.type === 'start' && !startSeen) { startSeen = true; started = performance.now(); }
      emit(e);
    };
    const logFile = store.logPath(key);
    rmSync(logFile, { force: true });
    let lastError: string | undefined;
    let tail: string[] | undefined;
    for (let attempt = 0; attempt <= spec.retries; attempt++) {
      if (abort.signal.aborted) break;
      let staging = '';
      try {
        staging = store.staging(name);
        const rec = await attemptStage(ws, spec, key, staging, logFile, records, abort.signal, emitStage, executors.of(spec), opts, snapshotBase, attempt + 1);
        records.set(name, rec);
        lockEntries.set(name, withOuts(lock, rec));
        store.dropWorkDir(key);
        const seconds = (performance.now() - started) / 1000;
        emit({ type: 'end', stage: name, status: 'ran', seconds, logFile });
        finish(name, { name, status: 'ran', key, seconds });
        return;
      } catch (e) {
        if (staging) {
          makeWritable(staging);
          rmSync(staging, { recursive: true, force: true });
        }
        if (e instanceof StageRunError) {
          lastError = e.message;
          tail = e.logTail;
          if (e.kind === 'cancelled' || e.kind === 'input') break;
        } else {
          lastError = (e as Error).message;
          tail = logTail(logFile, 20);
        }
        if (attempt < spec.retries && !abort.signal.aborted) emit({ type: 'note', stage: name, message: `attempt ${attempt + 1} of ${spec.retries + 1} failed (${lastError}); retrying` });
      }
    }
    const seconds = (performance.now() - started) / 1000;
    if (abort.signal.aborted) {
      emit({ type: 'end', stage: name, status: 'failed', seconds, error: 'interrupted', logFile });
      finish(name, { name, status: 'failed', key, seconds, error: 'interrupted' });
      return;
    }
    emit({ type: 'end', stage: name, status: 'failed', seconds, error: lastError, logTail: tail, logFile });
    finish(name, { name, status: 'failed', key, seconds, error: lastError });
    if (!opts.keepGoing) stopLaunching = true;
  };

  abort.signal.addEventListener('abort', () => {
    interrupted = true;
    stopLaunching = true;
  });

  try {
    // Collect the roots first: scheduling a cached root finishes it at once and readies others.
    ready.push(...dag.order.filter((n) => remaining.get(n) === 0));
    drain();
    if (dag.order.length === 0) resolveDone();
    await allDone;
    await queue.onIdle();
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }

  // The lock file records what ran; stages that did not complete (or were not targets) keep their previous entry.
  const entries: Record<string, LockStage> = {};
  for (const n of pipeline.stages.keys()) {
    const e = lockEntries.get(n) ?? ws.previousLock?.stages[n];
    if (e) entries[n] = e;
  }
  const lock: LockFile = { version: 1, pipeline: relative(ws.root, pipeline.file).replace(/\\/g, '/'), params: pipeline.params, stages: entries };
  // A fully cached run over an unchanged lock file leaves it as it is without serialising 10,000
  // entries to find that out.
  const prev = ws.previousLock;
  const unchanged =
    prev !== undefined &&
    prev.pipeline === lock.pipeline &&
    Object.keys(prev.stages).length === Object.keys(entries).length &&
    Object.entries(entries).every(([n, e]) => prev.stages[n] === e) &&
    canonicalJson(prev.params) === canonicalJson(lock.params);
  const lockWritten = unchanged ? false : writeLock(ws.lockPath, lock);
  const stages = dag.order.map((n) => results.get(n)!);
  const count = (s: StageOutcome) => stages.filter((r) => r.status === s).length;
  emit({ type: 'summary', ran: count('ran'), cached: count('cached'), failed: count('failed'), skipped: count('skipped'), seconds: (performance.now() - t0) / 1000, interrupted });
  return { stages, ok: count('failed') === 0 && count('skipped') === 0, interrupted, lockWritten, records };
}

function withOuts(lock: LockStage, rec: RunRecord): LockStage {
  const outs: LockStage['outs'] = {};
  for (const [k, o] of Object.entries(rec.outputs)) outs[k] = { path: o.path, hash: o.hash };
  return { ...lock, outs };
}

/** One attempt at a stage: run it (through the executor) into `staging`, then commit. Throws StageRunError on failure. */
async function attemptStage(
  ws: Workspace,
  spec: StageSpec,
  key: string,
  staging: string,
  logFile: string,
  records: Map<string, RunRecord>,
  signal: AbortSignal,
  emit: RunEventSink,
  executor: Executor,
  opts: RunOptions,
  snapshotBase: PipelineSnapshot,
  attempt: number,
): Promise<RunRecord> {
  const { store, pipeline } = ws;
  const started = performance.now();
  if (spec.kind === 'command') {
    const { command } = resolveInputs(ws, spec, records, true);
    // Old outputs must not pass for new ones (unless the stage keeps them: `persist`), and must
    // come back if the stage fails.
    const outPaths = Object.entries(spec.outs).filter(([name]) => !spec.persist.includes(name)).map(([, rel]) => join(ws.runDir, rel));
    // The folder an output goes in exists when the command starts (stages run in parallel, so one
    // cannot count on another having made it).
    for (const rel of Object.values(spec.outs)) mkdirSync(dirname(join(ws.runDir, rel)), { recursive: true });
    const moved = ws.outputs.moveAside(spec.name, outPaths);
    for (const abs of outPaths) ws.statCache.forget(abs);
    try {
      const job: StageJob = { stage: spec.name, work: { kind: 'command', command: command! }, cwd: ws.runDir, env: { ...spec.env }, resources: spec.resources, logFile };
      await runJob(executor, job, signal, emit, attempt, spec.name, logFile);
      const outputs: Record<string, string> = {};
      const uncached: Record<string, OutputRecord> = {};
      for (const [name, rel] of Object.entries(spec.outs)) {
        const abs = join(ws.runDir, rel);
        if (!existsSync(abs)) throw new StageRunError({ stage: spec.name, kind: 'error', message: `the command succeeded but did not write its output '${rel}'`, logFile, logTail: logTail(logFile) });
        if (spec.uncached.includes(name)) {
          // `cache: false`: recorded by its hash (dependents' keys need it), kept in the workspace only.
          const h = hashPath(abs, ws.statCache);
          uncached[name] = { path: rel, kind: h.kind, hash: h.hash, stored: false };
          continue;
        }
        copyPath(abs, join(staging, rel));
        outputs[name] = rel;
      }
      mkdirSync(staging, { recursive: true });
      const rec = store.commit({ key, stage: spec.name, type: spec.type, staging, outputs, uncached, seconds: (performance.now() - started) / 1000 });
      for (const [name, rel] of Object.entries(spec.outs)) ws.outputs.remember(join(ws.runDir, rel), rec.outputs[name].hash);
      moved.done();
      return rec;
    } catch (e) {
      moved.restore();
      for (const abs of outPaths) ws.statCache.forget(abs);
      throw e;
    }
  }
  const { inputs } = resolveInputs(ws, spec, records, false);
  const pipelineInfo = spec.wantsPipeline ? { ...snapshotBase, stages: snapshotBase.stages.map((s) => ({ ...s, key: records.get(s.name)?.key ?? s.key })) } : undefined;
  const job: StageJob = {
    stage: spec.name,
    work: { kind: 'builtin', modulePath: ws.registry.entry(spec.type).modulePath, inputs, outDir: staging, workDir: store.workDir(key), pipeline: pipelineInfo, inProcess: opts.inProcess || !spec.worker },
    cwd: pipeline.dir,
    env: { ...spec.env },
    resources: spec.resources,
    logFile,
  };
  await runJob(executor, job, signal, emit, attempt, spec.name, logFile);
  const missing = Object.entries(spec.outs).filter(([, p]) => !existsSync(join(staging, p)));
  if (missing.length) {
    throw new StageRunError({ stage: spec.name, kind: 'error', message: `stage finished without writing its output${missing.length > 1 ? 's' : ''} ${missing.map(([k, p]) => `'${k}' (${p})`).join(', ')}`, logFile, logTail: logTail(logFile) });
  }
  mkdirSync(staging, { recursive: true });
  return store.commit({ key, stage: spec.name, type: spec.type, staging, outputs: { ...spec.outs }, seconds: (performance.now() - started) / 1000 });
}

/** Submit a job and wait for it; a failed or cancelled job throws its StageRunError. */
async function runJob(executor: Executor, job: StageJob, signal: AbortSignal, emit: RunEventSink, attempt: number, stage: string, logFile: string): Promise<void> {
  const handle = executor.submit(job, signal);
  handle.on((e) => emit(e.type === 'start' ? { ...e, attempt } : e));
  const result = await handle.done;
  if (result.status !== 'succeeded') {
    throw result.error ?? new StageRunError({ stage, kind: result.status === 'cancelled' ? 'cancelled' : 'error', message: result.status, logFile, logTail: logTail(logFile) });
  }
}
