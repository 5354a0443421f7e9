// One squeue call for all of a run's jobs, as rarely as the run allows: the interval starts at
// `minMs`, grows by half after every call that saw no change, up to `maxMs`, and drops back to
// `minMs` when something changes or a job is added (a new job's first state should show soon).
// 500 jobs pending for an hour cost one call every `maxMs`.
//
// Public surface:
//   new QueueWatcher({ query, minMs, maxMs, onError })
//   watcher.watch(id, listener): unwatch       listener(entry) after each call; entry null: squeue
//                                              no longer lists the job (purged, or lost)
//   watcher.hurry()                             poll again within minMs (e.g. after scancel)
//   watcher.calls, watcher.intervalMs            squeue calls made (benchmarks), the current delay
import type { QueueEntry } from './job-states.js';

export type QueueListener = (entry: QueueEntry | null) => void;

export interface QueueWatcherOptions {
  query: (ids: string[]) => Promise<Map<string, QueueEntry>>;
  minMs: number;
  maxMs: number;
  /** A failed call (slurmctld busy or restarting): polling goes on, backing off. */
  onError?: (message: string) => void;
}

export class QueueWatcher {
  calls = 0;
  private readonly listeners = new Map<string, QueueListener>();
  private readonly last = new Map<string, string>();
  private interval: number;
  private timer: NodeJS.Timeout | null = null;
  private dueAt = 0;
  private polling = false;
  private failing = false;
  private hurried = false;

  constructor(private readonly opts: QueueWatcherOptions) {
    this.interval = opts.minMs;
  }

  /** The delay before the next call (the one that was used for a call in progress). */
  get intervalMs(): number {
    return this.interval;
  }

  watch(id: string, listener: QueueListener): () => void {
    this.listeners.set(id, listener);
    this.hurry();
    return () => {
      this.listeners.delete(id);
      this.last.delete(id);
      if (this.listeners.size === 0 && this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
    };
  }

  hurry(): void {
    this.interval = this.opts.minMs;
    if (this.polling) this.hurried = true;
    this.schedule(this.opts.minMs);
  }

  private schedule(delayMs: number): void {
    if (this.polling || this.listeners.size === 0) return;
    const due = Date.now() + delayMs;
    if (this.timer && this.dueAt <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = due;
    this.timer = setTimeout(() => void this.poll(), delayMs);
  }

  private async poll(): Promise<void> {
    this.timer = null;
    if (this.listeners.size === 0) return;
    this.polling = true;
    let changed = false;
    try {
      const ids = [...this.listeners.keys()];
      this.calls++;
      let entries: Map<string, QueueEntry>;
      try {
        entries = await this.opts.query(ids);
        this.failing = false;
      } catch (e) {
        if (!this.failing) this.opts.onError?.(`${(e as Error).message}; still polling`);
        this.failing = true;
        return;
      }
      for (const id of ids) {
        const listener = this.listeners.get(id);
        if (!listener) continue; // unwatched while squeue ran
        const entry = entries.get(id) ?? null;
        const sig = entry ? `${entry.state}|${entry.reason}|${entry.node}` : 'gone';
        if (this.last.get(id) !== sig) changed = true;
        this.last.set(id, sig);
        listener(entry);
      }
    } finally {
      this.polling = false;
      this.interval = changed || this.hurried ? this.opts.minMs : Math.min(this.opts.maxMs, Math.round(this.interval * 1.5));
      this.hurried = false;
      this.schedule(this.interval);
    }
  }
}
