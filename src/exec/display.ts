// Run progress output: a live multi-bar view on a TTY, plain lines otherwise, nothing for --json.
//
// Public surface:
//   createDisplay({ mode: 'tty' | 'plain' | 'json', stream, showLogs?, progressIntervalMs?, now? }): Display
//   display.handle(event: DisplayEvent); display.close()
//   displayModeFor(stream, json): DisplayMode        'json' if --json, 'tty' if stream.isTTY, else 'plain'
//
// The TTY view is drawn with cli-progress (MultiBar): a header line with running / done / cached /
// failed counts and one bar per running stage (done/total, rate, ETA, devices, last note). Finished
// stages scroll above the bars as one line each; a failure prints its error and log tail. Stages
// waiting in a batch queue (Slurm) show as queued, with the scheduler's state and reason.
// Plain mode prints one line per event, and at most one progress line per stage per
// `progressIntervalMs` (default 5 s). Cached stages are counted in the plan line, not listed.
import cliProgress from 'cli-progress';
import { formatReasons, type StaleReason } from '../plan/reasons.js';

export type DisplayMode = 'tty' | 'plain' | 'json';

export type DisplayEvent =
  | { type: 'plan'; stages: Array<{ name: string; status: 'stale' | 'cached'; reasons?: StaleReason[] }> }
  | { type: 'queued'; stage: string; detail: string }
  | { type: 'start'; stage: string; gpus: string[]; attempt?: number; where?: string }
  | { type: 'progress'; stage: string; done: number; total: number; note?: string }
  | { type: 'log'; stage: string; line: string }
  | { type: 'retry'; stage: string; attempt: number; of: number; error: string }
  | { type: 'note'; stage?: string; message: string }
  | { type: 'end'; stage: string; status: 'ran' | 'cached' | 'failed' | 'skipped'; seconds: number; error?: string; logTail?: string[]; logFile?: string }
  | { type: 'summary'; ran: number; cached: number; failed: number; skipped: number; seconds: number; interrupted?: boolean; message?: string };

export interface Display {
  handle(event: DisplayEvent): void;
  /** Stops the live view (restores the cursor). Idempotent. */
  close(): void;
}

export interface DisplayOptions {
  mode: DisplayMode;
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Plain mode: also print each stage's log lines (prefixed with the stage name). */
  showLogs?: boolean;
  progressIntervalMs?: number;
  /** Clock in ms (tests). */
  now?: () => number;
  /** Most stale stages listed by name in plain mode's plan (default 20). */
  planListLimit?: number;
}

export function displayModeFor(stream: { isTTY?: boolean }, json: boolean): DisplayMode {
  return json ? 'json' : stream.isTTY ? 'tty' : 'plain';
}

export function createDisplay(opts: DisplayOptions): Display {
  if (opts.mode === 'json') return { handle() {}, close() {} };
  return opts.mode === 'tty' ? new TtyDisplay(opts) : new PlainDisplay(opts);
}

/** Per-stage state shared by both views: rate and ETA over the whole run of the stage. */
interface StageView {
  name: string;
  attempt?: number;
  gpus: string[];
  /** The machine and batch job it runs in, when not this machine. */
  where?: string;
  /** Set while it waits in a batch queue: the scheduler's word on it. */
  queued?: string;
  startedAt: number;
  done: number;
  total: number;
  note?: string;
  firstAt?: number;
  firstDone?: number;
  lastPrinted?: number;
}

function rate(v: StageView, now: number): number | undefined {
  if (v.firstAt === undefined || now - v.firstAt < 200) return undefined;
  const r = (v.done - v.firstDone!) / ((now - v.firstAt) / 1000);
  return r > 0 ? r : undefined;
}

export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function fmtRate(r: number): string {
  return r >= 100 ? `${Math.round(r)}/s` : r >= 1 ? `${r.toFixed(1)}/s` : `${(r * 60).toFixed(1)}/min`;
}

function progressText(v: StageView, now: number): string {
  const parts: string[] = [];
  if (v.total > 0) parts.push(`${v.done}/${v.total} (${Math.floor((100 * v.done) / v.total)}%)`);
  const r = rate(v, now);
  if (r !== undefined) {
    parts.push(fmtRate(r));
    if (v.total > v.done) parts.push(`ETA ${fmtDuration((v.total - v.done) / r)}`);
  }
  return parts.join(' ');
}

function onDevices(gpus: string[]): string {
  return gpus.length > 0 ? ` on gpu ${gpus.join(',')}` : '';
}

abstract class BaseDisplay implements Display {
  protected readonly now: () => number;
  protected readonly t0: number;
  protected readonly views = new Map<string, StageView>();
  protected counts = { total: 0, stale: 0, cached: 0, ran: 0, failed: 0, skipped: 0 };
  protected closed = false;

  constructor(protected readonly opts: DisplayOptions) {
    this.now = opts.now ?? (() => Date.now());
    this.t0 = this.now();
  }

  handle(e: DisplayEvent): void {
    if (this.closed) return;
    const now = this.now();
    switch (e.type) {
      case 'plan':
        this.counts.total = e.stages.length;
        this.counts.stale = e.stages.filter((s) => s.status === 'stale').length;
        this.counts.cached = e.stages.length - this.counts.stale;
        this.plan(e);
        return;
      case 'queued': {
        const v = this.views.get(e.stage) ?? { name: e.stage, gpus: [], startedAt: now, done: 0, total: 0 };
        const changed = v.queued !== e.detail;
        v.queued = e.detail;
        this.views.set(e.stage, v);
        if (changed) this.queued(v);
        return;
      }
      case 'start': {
        const v: StageView = { name: e.stage, attempt: e.attempt, gpus: e.gpus, where: e.where, startedAt: now, done: 0, total: 0 };
        this.views.set(e.stage, v);
        this.started(v);
        return;
      }
      case 'progress': {
        const v = this.views.get(e.stage);
        if (!v) return;
        if (v.firstAt === undefined || e.done < v.done) {
          v.firstAt = now;
          v.firstDone = e.done;
        }
        v.done = e.done;
        v.total = e.total;
        if (e.note !== undefined) v.note = e.note;
        this.progressed(v, now);
        return;
      }
      case 'log': {
        const v = this.views.get(e.stage);
        this.logged(e.stage, e.line, v);
        return;
      }
      case 'retry':
        this.noted(`retry ${e.stage} (attempt ${e.attempt} of ${e.of}) after: ${e.error}`);
        return;
      case 'note':
        this.noted(`${e.stage ? `${e.stage}: ` : ''}${e.message}`);
        return;
      case 'end': {
        const v = this.views.get(e.stage);
        this.views.delete(e.stage);
        if (e.status === 'ran') this.counts.ran++;
        else if (e.status === 'failed') this.counts.failed++;
        else if (e.status === 'skipped') this.counts.skipped++;
        this.ended(e, v);
        return;
      }
      case 'summary':
        this.summary(e);
        return;
    }
  }

  protected failureLines(e: Extract<DisplayEvent, { type: 'end' }>): string[] {
    const lines = [`FAILED ${e.stage} after ${fmtDuration(e.seconds)}: ${e.error ?? 'failed'}`];
    if (e.logTail && e.logTail.length > 0) {
      lines.push(`  last ${e.logTail.length} line${e.logTail.length > 1 ? 's' : ''} of ${e.logFile ?? 'its log'}:`);
      for (const l of e.logTail) lines.push(`  | ${l}`);
    }
    return lines;
  }

  protected summaryLine(e: Extract<DisplayEvent, { type: 'summary' }>): string {
    const parts = [`ran ${e.ran}`, `cached ${e.cached}`, `failed ${e.failed}`];
    if (e.skipped > 0) parts.push(`skipped ${e.skipped}`);
    return `${e.interrupted ? 'interrupted: ' : ''}${parts.join(', ')} in ${fmtDuration(e.seconds)}${e.message ? ` — ${e.message}` : ''}`;
  }

  protected abstract plan(e: Extract<DisplayEvent, { type: 'plan' }>): void;
  protected abstract queued(v: StageView): void;
  protected abstract started(v: StageView): void;
  protected abstract progressed(v: StageView, now: number): void;
  protected abstract logged(stage: string, line: string, v: StageView | undefined): void;
  protected abstract noted(text: string): void;
  protected abstract ended(e: Extract<DisplayEvent, { type: 'end' }>, v: StageView | undefined): void;
  protected abstract summary(e: Extract<DisplayEvent, { type: 'summary' }>): void;
  abstract close(): void;
}

class PlainDisplay extends BaseDisplay {
  private write(line: string): void {
    this.opts.stream.write(line + '\n');
  }

  protected plan(e: Extract<DisplayEvent, { type: 'plan' }>): void {
    const { total, stale, cached } = this.counts;
    this.write(`plan: ${total} stage${total === 1 ? '' : 's'}, ${stale} to run, ${cached} cached`);
    const limit = this.opts.planListLimit ?? 20;
    const staleStages = e.stages.filter((s) => s.status === 'stale');
    for (const s of staleStages.slice(0, limit)) {
      this.write(`  will run ${s.name}${s.reasons && s.reasons.length > 0 ? `: ${formatReasons(s.reasons).join('; ')}` : ''}`);
    }
    if (staleStages.length > limit) this.write(`  … and ${staleStages.length - limit} more`);
  }

  protected queued(v: StageView): void {
    this.write(`queued ${v.name}: ${v.queued}`);
  }

  protected started(v: StageView): void {
    this.write(`start ${v.name}${onDevices(v.gpus)}${v.where ? ` on ${v.where}` : ''}${v.attempt && v.attempt > 1 ? ` (attempt ${v.attempt})` : ''}`);
  }

  protected progressed(v: StageView, now: number): void {
    const interval = this.opts.progressIntervalMs ?? 5000;
    if (v.lastPrinted !== undefined && now - v.lastPrinted < interval) return;
    // The first report only says the loop began; wait one interval for a rate worth printing.
    if (v.lastPrinted === undefined) {
      v.lastPrinted = now;
      return;
    }
    v.lastPrinted = now;
    this.write(`${v.name}: ${progressText(v, now)}${v.note ? ` ${v.note}` : ''}`);
  }

  protected logged(stage: string, line: string): void {
    if (this.opts.showLogs) this.write(`${stage} | ${line}`);
  }

  protected noted(text: string): void {
    this.write(text);
  }

  protected ended(e: Extract<DisplayEvent, { type: 'end' }>): void {
    if (e.status === 'ran') this.write(`done ${e.stage} in ${fmtDuration(e.seconds)}`);
    else if (e.status === 'failed') for (const l of this.failureLines(e)) this.write(l);
    else if (e.status === 'skipped') this.write(`skipped ${e.stage}${e.error ? `: ${e.error}` : ''}`);
  }

  protected summary(e: Extract<DisplayEvent, { type: 'summary' }>): void {
    this.write(this.summaryLine(e));
  }

  close(): void {
    this.closed = true;
  }
}

interface BarPayload {
  stage?: string;
}

class TtyDisplay extends BaseDisplay {
  private readonly multibar: cliProgress.MultiBar;
  private readonly header: cliProgress.SingleBar;
  private readonly bars = new Map<string, cliProgress.SingleBar>();

  constructor(opts: DisplayOptions) {
    super(opts);
    this.multibar = new cliProgress.MultiBar({
      stream: opts.stream,
      format: (options, params, payload: BarPayload) => this.render(options, params, payload),
      barsize: 24,
      barCompleteChar: '█',
      barIncompleteChar: '░',
      hideCursor: true,
      // The engine handles SIGINT itself (stops stages, then closes the display).
      gracefulExit: false,
      clearOnComplete: false,
      linewrap: false,
      fps: 5,
    });
    this.header = this.multibar.create(1, 0, {});
    process.once('exit', this.restoreCursor);
  }

  // If the process exits without close() (a second Ctrl-C), do not leave the terminal's cursor
  // hidden and line wrapping off.
  private readonly restoreCursor = (): void => {
    if (!this.closed) this.opts.stream.write('\x1b[?25h\x1b[?7h\n');
  };

  private render(options: cliProgress.Options, params: cliProgress.Params, payload: BarPayload): string {
    const now = this.now();
    if (!payload.stage) {
      const { total, cached, ran, failed, skipped } = this.counts;
      const waiting = [...this.views.values()].filter((x) => x.queued !== undefined).length;
      const parts = [`${this.views.size - waiting} running`, ...(waiting ? [`${waiting} queued`] : []), `${ran + cached}/${total || '?'} done`, `${cached} cached`, `${failed} failed`];
      if (skipped > 0) parts.push(`${skipped} skipped`);
      return `fisherflow  ${parts.join(' · ')}  ${fmtDuration((now - this.t0) / 1000)}`;
    }
    const v = this.views.get(payload.stage);
    if (!v) return '';
    const name = v.name.length > 28 ? v.name.slice(0, 27) + '…' : v.name.padEnd(28);
    const elapsed = fmtDuration((now - v.startedAt) / 1000);
    if (v.queued !== undefined) return `  ${name} queued ${elapsed}  ${v.queued}`;
    const dev = (v.gpus.length > 0 ? ` [gpu ${v.gpus.join(',')}]` : '') + (v.where ? ` [${v.where}]` : '') + (v.attempt && v.attempt > 1 ? ` (attempt ${v.attempt})` : '');
    if (v.total > 0) {
      const bar = cliProgress.Format.BarFormat(params.progress, options);
      return `  ${name} ${bar} ${progressText(v, now)}  ${elapsed}${dev}${v.note ? `  ${v.note}` : ''}`;
    }
    return `  ${name} running ${elapsed}${dev}${v.note ? `  ${v.note}` : ''}`;
  }

  private above(lines: string[]): void {
    // cli-progress clears only the first line before printing its log buffer; a multi-line entry
    // would keep the tails of the bars it overwrites, so each line clears to its end (ESC[K).
    const text = lines.join('\n').split('\n').map((l) => `${l}\x1b[K`).join('\n');
    this.multibar.log(text + '\n');
  }

  protected plan(e: Extract<DisplayEvent, { type: 'plan' }>): void {
    const stale = e.stages.filter((s) => s.status === 'stale').length;
    this.above([`plan: ${e.stages.length} stages, ${stale} to run, ${e.stages.length - stale} cached`]);
    this.multibar.update();
  }

  protected queued(v: StageView): void {
    if (!this.bars.has(v.name)) this.bars.set(v.name, this.multibar.create(1, 0, { stage: v.name }));
    this.multibar.update();
  }

  protected started(v: StageView): void {
    // A retry (or a queued stage that starts) starts the same stage again: reuse its bar.
    const old = this.bars.get(v.name);
    if (old) this.multibar.remove(old);
    this.bars.set(v.name, this.multibar.create(1, 0, { stage: v.name }));
  }

  protected progressed(v: StageView): void {
    const bar = this.bars.get(v.name);
    if (!bar) return;
    if (bar.getTotal() !== v.total) bar.setTotal(Math.max(v.total, 1));
    bar.update(v.done);
  }

  protected logged(_stage: string, line: string, v: StageView | undefined): void {
    // The last log line serves as the note of a stage that reports no progress.
    if (v && v.total === 0) v.note = line.length > 60 ? line.slice(0, 59) + '…' : line;
  }

  protected noted(text: string): void {
    this.above([text]);
  }

  protected ended(e: Extract<DisplayEvent, { type: 'end' }>): void {
    const bar = this.bars.get(e.stage);
    if (bar) {
      this.bars.delete(e.stage);
      this.multibar.remove(bar);
    }
    if (e.status === 'ran') this.above([`✓ ${e.stage} ${fmtDuration(e.seconds)}`]);
    else if (e.status === 'failed') this.above(['✗ ' + this.failureLines(e).join('\n')]);
    else if (e.status === 'skipped') this.above([`- ${e.stage} skipped${e.error ? `: ${e.error}` : ''}`]);
    // Cached stages only change the counts: leave those to the timer (thousands may arrive at once).
    if (e.status !== 'cached') this.multibar.update();
  }

  protected summary(e: Extract<DisplayEvent, { type: 'summary' }>): void {
    this.above([this.summaryLine(e)]);
    this.multibar.update();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Finished stages and the summary are already printed above; leave no frozen bars behind.
    for (const bar of this.bars.values()) this.multibar.remove(bar);
    this.bars.clear();
    this.multibar.remove(this.header);
    this.multibar.update();
    this.multibar.stop();
    process.off('exit', this.restoreCursor);
  }
}
