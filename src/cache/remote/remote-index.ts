// What a remote already holds, learnt by listing (never one request per object): the keys of an
// area are listed one shard (`blobs/ab/`) at a time, the shards a question needs in parallel, and
// each listing is kept for the rest of the command.
import PQueue from 'p-queue';
import { keyOf, type RemoteArea } from './layout.js';
import type { RemoteEntry, RemoteStore } from './remote-store.js';

export class RemoteIndex {
  private readonly shards = new Map<string, Promise<Map<string, RemoteEntry>>>();
  private readonly lists: PQueue;

  constructor(
    private readonly remote: RemoteStore,
    concurrency = 16,
  ) {
    this.lists = new PQueue({ concurrency });
  }

  private shard(area: RemoteArea, id: string): Promise<Map<string, RemoteEntry>> {
    const prefix = `${area}/${id.slice(0, 2)}/`;
    let p = this.shards.get(prefix);
    if (!p) {
      p = this.lists.add(async () => new Map((await this.remote.list(prefix)).map((e) => [e.key, e]))) as Promise<Map<string, RemoteEntry>>;
      this.shards.set(prefix, p);
      // A failed listing is asked again next time, not remembered.
      p.catch(() => this.shards.delete(prefix));
    }
    return p;
  }

  /** List every shard these ids fall in, in parallel. */
  async prefetch(area: RemoteArea, ids: Iterable<string>): Promise<void> {
    await Promise.all([...new Set([...ids].map((id) => id.slice(0, 2)))].map((s) => this.shard(area, s)));
  }

  /** The remote's entry for this id, if it has one. */
  async get(area: RemoteArea, id: string): Promise<RemoteEntry | undefined> {
    return (await this.shard(area, id)).get(keyOf(area, id));
  }

  /** Remember a key this process has just written. */
  async note(area: RemoteArea, id: string, size: number): Promise<void> {
    const key = keyOf(area, id);
    (await this.shard(area, id)).set(key, { key, size, modified: Date.now() });
  }
}
