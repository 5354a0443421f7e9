// SlurmExecutor: runs each stage as a Slurm batch job (`sbatch`), and watches all of a run's jobs
// with one `squeue` call at a time (queue-watcher.ts). The job runs `fisherflow exec-stage
// JOB.json` on a compute node; the job file, the stage's log and its result file live in the store,
// which must be on a filesystem the compute nodes share. The result file is the truth: it is read
// when the job has ended or vanished from squeue (waiting up to `resultWaitMs` for filesystem lag),
// or as soon as it appears while the job still shows as running.
//
// Public surface:
//   new SlurmExecutor({ settings, storeRoot, pipelineFile, stageOptions?, onNote? })
//   executor.check(job) / executor.submit(job, signal?)       (see ../executor.ts)
//   executor.watcher.calls, executor.counts                    squeue / sbatch / scancel calls made
//
// Cancelling: handles aborted together (Ctrl-C aborts them all at once) are cancelled with one
// `scancel ID...`; a handle settles once squeue shows its job ended (or gone). A job that Slurm
// reports NODE_FAIL, BOOT_FAIL or PREEMPTED is resubmitted up to `settings.resubmit` times.
import { accessSync, appendFileSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { constants as os } from 'node:os';
import { StageRunError, type StageFailureKind } from '../errors.js';
import type { Executor, JobEvent, JobHandle, JobResult, JobResultRecord, StageJob } from '../executor.js';
import { jobHandle } from '../job-handle.js';
import { logTail } from '../log-file.js';
import { batchScript, gpuCount, jobName, NO_STORE_EXIT, sbatchArgs, type BatchJobSpec, type SlurmJobOptions } from './batch-job.js';
import { LogFollower, readJsonFile } from './file-follower.js';
import { explainEnd, isInfrastructureFailure, phaseOf, type QueueEntry } from './job-states.js';
import { QueueWatcher } from './queue-watcher.js';
import { querySqueue, runSlurmCommand } from './squeue.js';
import type { SlurmSettings } from './settings.js';

export interface SlurmExecutorOptions {
  settings: SlurmSettings;
  storeRoot: string;
  pipelineFile: string;
  /** A stage's own `slurm:` settings (over the project's). */
  stageOptions?: (stage: string) => SlurmJobOptions | undefined;
  /** Remarks not tied to one stage (squeue or scancel trouble). */
  onNote?: (message: string) => void;
}

/** How often a running job's log, progress and result files are looked at. */
const FILE_TICK_MS = 1000;
/** After scancel: how long to wait for squeue to show the job ended before giving up on it. */
const CANCEL_WAIT_MS = 30_000;
/** How long a failed stage's result waits for squeue to show how its job ended. */
const FINAL_STATE_WAIT_MS = 15_000;
/** sbatch calls at once: hundreds of ready stages must not fork hundreds of clients at slurmctld. */
const SBATCH_AT_ONCE = 4;

export class SlurmExecutor implements Executor {
  readonly watcher: QueueWatcher;
  readonly counts = { sbatch: 0, scancel: 0 };
  private readonly slots: Slots;
  private readonly submitting = new Slots(SBATCH_AT_ONCE);
  private readonly toCancel = new Set<string>();
  private toolsChecked = false;

  constructor(private readonly opts: SlurmExecutorOptions) {
    this.watcher = new QueueWatcher({ query: querySqueue, minMs: opts.settings.pollMinMs, maxMs: opts.settings.pollMaxMs, onError: (m) => opts.onNote?.(m) });
    this.slots = new Slots(opts.settings.maxJobs);
  }

  /** Slurm's client commands must be on PATH (said once, for the first stage that needs them). */
  check(job: StageJob): string | null {
    if (this.toolsChecked) return null;
    this.toolsChecked = true;
    const missing = ['sbatch', 'squeue', 'scancel'].filter((c) => !onPath(c));
    if (missing.length === 0) return null;
    return `stage ${job.stage} runs on Slurm, but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not on PATH: run fisherflow on a machine that can submit jobs (a login node), or use --executor local`;
  }

  submit(job: StageJob, signal?: AbortSignal): JobHandle {
    return jobHandle(job.stage, signal, (jobSignal, emit) => new SlurmJobRun(this, this.opts, job, jobSignal, emit).run());
  }

  /** @internal A slot in the queue (-j); resolves false when aborted first. */
  acquireSlot(signal: AbortSignal): Promise<boolean> {
    return this.slots.acquire(signal);
  }

  /** @internal */
  releaseSlot(): void {
    this.slots.release();
  }

  /** @internal sbatch with the script on stdin; the job id, or the refusal. */
  async sbatch(args: string[], script: string): Promise<{ id: string } | { error: string }> {
    this.counts.sbatch++;
    await this.submitting.acquire(new AbortController().signal);
    let r;
    try {
      r = await runSlurmCommand('sbatch', args, { stdin: script });
    } finally {
      this.submitting.release();
    }
    // --parsable prints "ID" or "ID;CLUSTER".
    const id = r.stdout.trim().split(';')[0]!;
    if (r.code !== 0 || !/^\d+$/.test(id)) {
      // sbatch's own verdict is on its `sbatch: error:` / `fatal:` lines; the rest is library noise.
      const lines = (r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`).split('\n').map((l) => l.trim()).filter(Boolean);
      const verdict = lines.filter((l) => /^sbatch: (error|fatal): /.test(l)).map((l) => l.replace(/^sbatch: (error|fatal): /, ''));
      return { error: (verdict.length ? verdict : lines.slice(-1)).join('; ') };
    }
    return { id };
  }

  /** @internal Cancels `id` together with every other job cancelled in the same turn of the event loop. */
  requestCancel(id: string): void {
    if (this.toCancel.size === 0) setImmediate(() => void this.flushCancels());
    this.toCancel.add(id);
  }

  private async flushCancels(): Promise<void> {
    const ids = [...this.toCancel];
    this.toCancel.clear();
    if (ids.length === 0) return;
    this.counts.scancel++;
    const r = await runSlurmCommand('scancel', ids, { timeoutMs: 60_000 });
    if (r.code !== 0) this.opts.onNote?.(`scancel ${ids.join(' ')} failed: ${r.stderr.trim() || `exit code ${r.code}`}; these jobs may still be in the queue`);
    this.watcher.hurry();
  }
}

/** One stage's job, from its queue slot to its result (with resubmissions after node failures). */
class SlurmJobRun {
  private readonly t0 = performance.now();
  private startedAt: number | null = null;
  private readonly settings: SlurmSettings;
  private dir = '';
  private files = { job: '', result: '', progress: '', output: '' };

  constructor(
    private readonly ex: SlurmExecutor,
    private readonly opts: SlurmExecutorOptions,
    private readonly job: StageJob,
    private readonly signal: AbortSignal,
    private readonly emit: (e: JobEvent) => void,
  ) {
    this.settings = opts.settings;
  }

  private result(status: JobResult['status'], error?: StageRunError, gpus: string[] = []): JobResult {
    const from = this.startedAt ?? this.t0;
    return { stage: this.job.stage, status, seconds: (performance.now() - from) / 1000, gpus, error };
  }

  private failure(kind: StageFailureKind, message: string, extra: { exitCode?: number | null; signal?: string | null } = {}): StageRunError {
    return new StageRunError({ stage: this.job.stage, kind, message, ...extra, logFile: this.job.logFile, logTail: logTail(this.job.logFile) });
  }

  async run(): Promise<JobResult> {
    const stage = this.job.stage;
    if (!(await this.ex.acquireSlot(this.signal))) return this.result('cancelled', this.failure('cancelled', `stage ${stage} was cancelled before it was submitted`));
    try {
      this.writeJobFile();
      for (let submission = 0; ; submission++) {
        const r = await this.submitOnce();
        if ('retry' in r && submission < this.settings.resubmit && !this.signal.aborted) {
          this.emit({ type: 'note', stage, message: `${r.retry}; resubmitting (${submission + 1} of ${this.settings.resubmit})` });
          continue;
        }
        return 'retry' in r ? r.result : r;
      }
    } catch (e) {
      return this.result('failed', this.failure('error', `stage ${stage}: ${(e as Error).message}`));
    } finally {
      this.ex.releaseSlot();
      // The job's files served their purpose (a failure's Slurm output is now in the stage's log).
      if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private writeJobFile(): void {
    const slurmTmp = join(this.opts.storeRoot, 'tmp', 'slurm');
    mkdirSync(slurmTmp, { recursive: true });
    this.dir = mkdtempSync(join(slurmTmp, `${this.job.stage.replace(/[^A-Za-z0-9_.-]/g, '_')}-`));
    this.files = { job: join(this.dir, 'job.json'), result: join(this.dir, 'result.json'), progress: join(this.dir, 'progress.json'), output: join(this.dir, 'slurm.out') };
    const r = this.job.resources ?? {};
    const job: StageJob = {
      ...this.job,
      env: { ...this.job.env, FISHERFLOW_CPUS: String(r.cpu ?? 1) },
      // No GPU asked for: none, whatever CUDA_VISIBLE_DEVICES the job inherits. Else Slurm's.
      ...(gpuCount(r) === 0 ? { gpus: [] } : {}),
      resultFile: this.files.result,
      progressFile: this.files.progress,
    };
    writeFileSync(this.files.job, JSON.stringify(job, null, 1));
  }

  private batchSpec(): BatchJobSpec {
    const stageOpts = this.opts.stageOptions?.(this.job.stage);
    return {
      name: jobName(this.opts.pipelineFile, this.job.stage),
      comment: `fisherflow stage ${this.job.stage} of ${this.opts.pipelineFile}`,
      cwd: this.job.cwd,
      outputFile: this.files.output,
      jobFile: this.files.job,
      resources: this.job.resources ?? {},
      options: [this.settings.job, ...(stageOpts ? [stageOpts] : [])],
      stopBeforeLimitS: this.settings.stopBeforeLimitS,
      command: this.settings.command,
      storeRoot: this.opts.storeRoot,
    };
  }

  /** One sbatch and its job's life. `retry`: an infrastructure failure worth resubmitting. */
  private async submitOnce(): Promise<JobResult | { retry: string; result: JobResult }> {
    const stage = this.job.stage;
    for (const f of [this.files.result, this.files.progress]) rmSync(f, { force: true });
    const spec = this.batchSpec();
    const sub = await this.ex.sbatch(sbatchArgs(spec), batchScript(spec));
    if ('error' in sub) {
      if (this.signal.aborted) return this.result('cancelled', this.failure('cancelled', `stage ${stage} was cancelled`));
      return this.result('failed', this.failure('input', `stage ${stage}: sbatch refused the job: ${sub.error}`));
    }
    const id = sub.id;
    this.emit({ type: 'queued', stage, detail: `Slurm job ${id} submitted` });
    const end = await this.follow(id);
    const e = end.entry;
    const state = e?.state ?? 'unknown';
    const where = `Slurm job ${id}${e?.node ? ` on ${e.node}` : ''}`;
    if (end.cancelled) {
      // A stage that finished just before the cancellation keeps its result.
      const done = end.result ?? readJsonFile<JobResultRecord>(this.files.result);
      if (done?.status === 'succeeded') return this.fromRecord(done, e, where);
      return this.result('cancelled', this.failure('cancelled', `stage ${stage} was cancelled (${where})`));
    }

    const neverRan = e !== null && phaseOf(e.state) === 'ended' && (e.node === '' || e.reason === 'JobLaunchFailure' || e.exit?.code === NO_STORE_EXIT);
    const rec = end.result ?? (await this.awaitResult(neverRan ? 0 : this.settings.resultWaitMs));
    // A short job can start and end between two squeue calls.
    if (rec && this.startedAt === null) this.started(id, e ?? end.lastSeen ?? null);
    const infra = e !== null && isInfrastructureFailure(e.state);
    if (infra && rec?.status !== 'succeeded') {
      const why = `${where} ended ${state}`;
      const failed = this.result('failed', this.failure('signal', `stage ${stage}: ${why}`));
      return { retry: why, result: failed };
    }
    if (rec) return this.fromRecord(rec, e, where);
    this.appendSlurmOutput(where);
    const ctx = { storeRoot: this.opts.storeRoot, cwd: this.job.cwd, outputFile: this.files.output, memory: this.job.resources?.memory, time: this.job.resources?.time, noStoreExit: NO_STORE_EXIT };
    if (!e) {
      const seen = end.lastSeen ? `last seen ${end.lastSeen.state}${end.lastSeen.node ? ` on ${end.lastSeen.node}` : ''}` : 'never seen';
      return this.result('failed', this.failure('error', `stage ${stage}: Slurm job ${id} vanished from squeue (${seen}) and left no result file within ${this.settings.resultWaitMs / 1000}s: it was killed (out of memory?) or lost with its node, or the node cannot see the store (${this.opts.storeRoot})`));
    }
    const why = explainEnd(e, ctx);
    const kind: StageFailureKind = state.startsWith('CANCELLED') ? 'cancelled' : neverRan ? 'input' : e.exit?.signal ? 'signal' : 'exit';
    const sig = e.exit?.signal ? signalName(e.exit.signal) : null;
    const how = sig ? `killed by ${sig}` : e.exit?.code ? `exit code ${e.exit.code}` : '';
    const detail = [e.reason && e.reason !== 'None' ? e.reason : '', how].filter(Boolean).join(', ');
    return this.result('failed', this.failure(kind, `stage ${stage}: ${where} ended ${state}${detail ? ` (${detail})` : ''} without a result: ${why}`, { exitCode: e.exit?.code ?? null, signal: sig }));
  }

  private started(id: string, e: QueueEntry | null): void {
    this.startedAt = performance.now();
    this.emit({ type: 'start', stage: this.job.stage, gpus: [], where: `${e?.node ? `node ${e.node}, ` : ''}Slurm job ${id}` });
  }

  /** The stage ran and wrote its record: what it says, with where it ran. */
  private fromRecord(rec: JobResultRecord, e: QueueEntry | null, where: string): JobResult {
    const stage = this.job.stage;
    if (rec.status === 'succeeded') return this.result('succeeded', undefined, rec.gpus ?? []);
    this.appendSlurmOutput(where);
    const state = e?.state ?? 'gone from squeue';
    const sig = rec.error?.signal ?? null;
    // Slurm's final word decides what a stop means: scancel's SIGTERM can reach the stage's own
    // processes before exec-stage, whose record then says "killed by SIGTERM" rather than "stopped".
    if (state.startsWith('CANCELLED')) {
      return this.result('failed', this.failure('cancelled', `stage ${stage}: ${where} was cancelled outside fisherflow (scancel, or by an administrator)${sig ? `; the stage was stopped by ${sig}` : ''}`), rec.gpus ?? []);
    }
    if (rec.status === 'cancelled' || state.startsWith('TIMEOUT')) {
      const limit = this.job.resources?.time;
      const before = limit ? ` before its time limit (resources.time: ${limit})` : '';
      return this.result('failed', this.failure('signal', `stage ${stage} was stopped by ${sig ?? 'Slurm'}${before} [${where}, ${state}]`, { signal: sig }), rec.gpus ?? []);
    }
    const err = rec.error;
    return this.result('failed', this.failure(err?.kind ?? 'error', `${err?.message ?? `stage ${stage} failed`} [${where}]`, { exitCode: err?.exitCode ?? null, signal: sig }), rec.gpus ?? []);
  }


  /**
   * Watches job `id` until it ends, vanishes, or its result file appears. Emits queued/start,
   * log lines and progress on the way; on abort, asks for its cancellation and waits for the end.
   */
  private follow(id: string): Promise<{ entry: QueueEntry | null; lastSeen?: QueueEntry; result?: JobResultRecord; cancelled: boolean }> {
    return new Promise((resolve) => {
      const stage = this.job.stage;
      const log = new LogFollower(this.job.logFile);
      let lastDetail = '';
      let lastProgress = '';
      let lastSeen: QueueEntry | undefined;
      let running = false;
      let cancelled = false;
      let tick: NodeJS.Timeout | null = null;
      let cancelTimer: NodeJS.Timeout | null = null;
      // A failure's result can come before squeue shows the job ended; its final state (CANCELLED
      // by someone else, TIMEOUT, PREEMPTED) says what the failure means, so wait for it a little.
      let early: JobResultRecord | undefined;
      let earlyTimer: NodeJS.Timeout | null = null;
      let settled = false;
      const finish = (entry: QueueEntry | null, result?: JobResultRecord) => {
        if (settled) return;
        settled = true;
        unwatch();
        if (tick) clearInterval(tick);
        if (cancelTimer) clearTimeout(cancelTimer);
        if (earlyTimer) clearTimeout(earlyTimer);
        this.signal.removeEventListener('abort', onAbort);
        readFiles();
        resolve({ entry, lastSeen, result, cancelled });
      };
      const readFiles = () => {
        for (const line of log.read()) this.emit({ type: 'log', stage, line });
        const p = readJsonFile<{ done: number; total: number; note?: string }>(this.files.progress);
        const key = p ? JSON.stringify(p) : '';
        if (p && key !== lastProgress && typeof p.done === 'number') {
          lastProgress = key;
          this.emit({ type: 'progress', stage, done: p.done, total: p.total, note: p.note });
        }
      };
      const onTick = () => {
        readFiles();
        if (!cancelled && !early && existsSync(this.files.result)) {
          const rec = readJsonFile<JobResultRecord>(this.files.result);
          if (!rec || typeof rec.status !== 'string') return;
          if (rec.status === 'succeeded') return finish(lastSeen ?? null, rec);
          early = rec;
          this.ex.watcher.hurry();
          earlyTimer = setTimeout(() => finish(lastSeen ?? null, early), FINAL_STATE_WAIT_MS);
        }
      };
      const unwatch = this.ex.watcher.watch(id, (entry) => {
        if (!entry) return finish(null, early);
        lastSeen = entry;
        const phase = phaseOf(entry.state);
        if (phase === 'waiting') {
          const detail = `Slurm job ${id} ${entry.state}${entry.reason && entry.reason !== 'None' ? ` (${entry.reason})` : ''}`;
          if (detail !== lastDetail && !cancelled) this.emit({ type: 'queued', stage, detail });
          lastDetail = detail;
          return;
        }
        if (!running && !cancelled) {
          running = true;
          if (this.startedAt === null) this.started(id, entry);
          tick = setInterval(onTick, FILE_TICK_MS);
        }
        if (phase === 'ended') finish(entry, early);
      });
      const onAbort = () => {
        if (cancelled) return;
        cancelled = true;
        this.ex.requestCancel(id);
        // A job that does not show as ended in time is left to Slurm: the run must end.
        cancelTimer = setTimeout(() => finish(lastSeen ?? null), CANCEL_WAIT_MS);
      };
      if (this.signal.aborted) onAbort();
      else this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The result file, once it appears (shared filesystems can lag), or undefined after `waitMs`. */
  private async awaitResult(waitMs: number): Promise<JobResultRecord | undefined> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const rec = readJsonFile<JobResultRecord>(this.files.result);
      if (rec && typeof rec.status === 'string') return rec;
      if (Date.now() >= deadline || this.signal.aborted) return undefined;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Slurm's own output of the job (exec-stage's messages, the batch script's) goes into the stage's log. */
  private appendSlurmOutput(where: string): void {
    let text = '';
    try {
      text = readFileSync(this.files.output, 'utf8');
    } catch {
      return;
    }
    if (!text.trim()) return;
    const tail = text.length > 16_384 ? text.slice(-16_384) : text;
    appendFileSync(this.job.logFile, `--- Slurm output of ${where} ---\n${tail.endsWith('\n') ? tail : tail + '\n'}`);
  }
}

/** A counting semaphore whose waiters can be aborted. */
class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly size: number) {}

  acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.used < this.size) {
      this.used++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        this.used++;
        resolve(true);
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(false);
      };
      this.waiting.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    this.used--;
    this.waiting.shift()?.();
  }
}

/** 9 → "SIGKILL". */
function signalName(n: number): string {
  return Object.entries(os.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;
}

function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}
