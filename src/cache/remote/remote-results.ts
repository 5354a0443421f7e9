// A remote as `run` and `status` consult it: "is the result of this key there?" and "fetch it".
// The remote never stops a run: a result that fails verification is reported with its remote key
// and the stage runs locally; a remote that cannot be reached or refuses access is reported once
// and not asked again for the rest of the command.
import PQueue from 'p-queue';
import type { ContentStore, RunRecord } from '../store.js';
import { DownloadedBlobs, fetchResult, readRemoteRecord } from './pull.js';
import { RemoteIndex } from './remote-index.js';
import { RemoteError, type RemoteStore } from './remote-store.js';
import { fmtBytes, fmtRate } from './transfer-progress.js';

/** What the run loop needs from a remote (src/run/run.ts). */
export interface RemoteFetch {
  readonly name: string;
  /** The installed record of `key` fetched from the remote, or undefined (then the stage runs). */
  fetch(key: string, stage: string): Promise<RunRecord | undefined>;
}

export class RemoteResults implements RemoteFetch {
  readonly name: string;
  readonly index: RemoteIndex;
  private readonly transfers: PQueue;
  private readonly records = new Map<string, Promise<RunRecord | undefined>>();
  private readonly downloaded = new DownloadedBlobs();
  /** Set once the remote failed as a whole (unreachable, denied): it is not asked again. */
  broken?: RemoteError;
  /** Results fetched by this process. */
  fetched = { results: 0, bytes: 0, seconds: 0 };

  constructor(
    readonly remote: RemoteStore,
    private readonly store: ContentStore,
    opts: { concurrency: number; note?: (stage: string | undefined, message: string) => void },
  ) {
    this.name = remote.name;
    this.index = new RemoteIndex(remote);
    this.transfers = new PQueue({ concurrency: opts.concurrency });
    this.note = opts.note ?? (() => {});
  }

  private readonly note: (stage: string | undefined, message: string) => void;

  /** Report a failure: a whole-remote one once (and stop asking), a result's own per stage. */
  private failed(e: unknown, stage: string | undefined, doing: string): undefined {
    if (!(e instanceof RemoteError)) throw e;
    if (e.problem === 'integrity') {
      this.note(stage, `${e.message}; not installed, ${doing}`);
      return undefined;
    }
    if (!this.broken) {
      this.broken = e;
      this.note(undefined, `${e.message}; not using it for the rest of this command`);
    }
    return undefined;
  }

  /** The remote's record for `key` (read once per process), or undefined. */
  recordFor(key: string, stage?: string): Promise<RunRecord | undefined> {
    let p = this.records.get(key);
    if (!p) {
      p = (async () => {
        if (this.broken) return undefined;
        try {
          if (!(await this.index.get('runs', key))) return undefined;
          return await readRemoteRecord(this.remote, key);
        } catch (e) {
          return this.failed(e, stage, 'ignoring it');
        }
      })();
      this.records.set(key, p);
    }
    return p;
  }

  async fetch(key: string, stage: string): Promise<RunRecord | undefined> {
    const record = await this.recordFor(key, stage);
    if (!record || this.broken) return undefined;
    const t0 = performance.now();
    let bytes = 0;
    try {
      const installed = await fetchResult(this.store, this.remote, record, { transfers: this.transfers, downloaded: this.downloaded, progress: { expect() {}, advance: (n) => (bytes += n), resumed() {}, fileDone() {}, finish: () => ({ files: 0, bytes, resumedBytes: 0, seconds: 0 }) } });
      const seconds = (performance.now() - t0) / 1000;
      this.fetched.results++;
      this.fetched.bytes += bytes;
      this.fetched.seconds += seconds;
      this.note(stage, `fetched from remote '${this.name}' (${fmtBytes(bytes)} in ${seconds.toFixed(1)} s${bytes > 1e6 ? `, ${fmtRate(bytes, seconds)}` : ''})`);
      return installed;
    } catch (e) {
      return this.failed(e, stage, 'running the stage here');
    }
  }

  close(): void {
    this.remote.close();
  }
}
