// Garbage collection on a remote: keep the run records whose keys some lock file references, the
// manifests those records name and the blobs those manifests list; remove the rest. Removal goes
// in the reverse order of a push (records, then manifests, then blobs), so that a reader never
// finds a record whose files are gone; and anything modified more recently than `keepNewerMs` is
// kept, so that a push in progress (blobs up, its record not yet) is not robbed of its blobs.
import PQueue from 'p-queue';
import { idOf, parseManifest, parseRecord, type RemoteArea } from './layout.js';
import { readDocument } from './pull.js';
import { RemoteError, type RemoteEntry, type RemoteStore } from './remote-store.js';

export interface RemoteGcReport {
  remove: Record<RemoteArea | 'tmp', number>;
  keep: Record<RemoteArea, number>;
  /** Bytes the removal frees. */
  bytes: number;
  /** Unreferenced entries kept because they are recent. */
  recent: number;
}

export async function collectRemoteGarbage(remote: RemoteStore, keepKeys: Set<string>, opts: { yes: boolean; keepNewerMs: number; now?: number }): Promise<RemoteGcReport> {
  const now = opts.now ?? Date.now();
  const [runs, trees, blobs, tmp] = await Promise.all(['runs/', 'trees/', 'blobs/', 'tmp/'].map((p) => remote.list(p)));
  const reads = new PQueue({ concurrency: 16 });
  const keptTrees = new Set<string>();
  const keptBlobs = new Set<string>();
  const keptRuns = runs.filter((e) => keepKeys.has(idOf('runs', e.key) ?? ''));
  // The records and manifests kept say which manifests and blobs stay.
  await Promise.all(
    keptRuns.map((e) =>
      reads.add(async () => {
        const key = idOf('runs', e.key)!;
        const bytes = await readDocument(remote, e.key);
        try {
          if (bytes) keptTrees.add(parseRecord(remote.name, e.key, bytes, key).tree);
        } catch (err) {
          // A damaged record keeps nothing alive (a pull would refuse it anyway).
          if (!(err instanceof RemoteError)) throw err;
        }
      }),
    ),
  );
  const treeEntries = new Map(trees.map((e) => [idOf('trees', e.key), e]));
  await Promise.all(
    [...keptTrees].map((tree) =>
      reads.add(async () => {
        const entry = treeEntries.get(tree);
        if (!entry) return;
        const bytes = await readDocument(remote, entry.key);
        if (!bytes) return;
        try {
          for (const [, , sha] of parseManifest(remote.name, entry.key, bytes, tree).files) keptBlobs.add(sha);
        } catch (e) {
          // A damaged manifest keeps nothing alive; its record is useless without it.
          if (!(e instanceof RemoteError)) throw e;
        }
      }),
    ),
  );
  let recent = 0;
  let bytes = 0;
  const garbage = (area: RemoteArea | 'tmp', entries: RemoteEntry[], keep: (id: string) => boolean): string[] => {
    const out: string[] = [];
    for (const e of entries) {
      const id = area === 'tmp' ? e.key : idOf(area, e.key);
      if (id === undefined || keep(id)) continue;
      if (now - e.modified < opts.keepNewerMs) {
        recent++;
        continue;
      }
      bytes += e.size;
      out.push(e.key);
    }
    return out;
  };
  const dropRuns = garbage('runs', runs, (k) => keepKeys.has(k));
  const dropTrees = garbage('trees', trees, (t) => keptTrees.has(t));
  const dropBlobs = garbage('blobs', blobs, (b) => keptBlobs.has(b));
  const dropTmp = garbage('tmp', tmp, () => false);
  if (opts.yes) {
    await remote.remove(dropRuns);
    await remote.remove(dropTrees);
    await remote.remove(dropBlobs);
    await remote.remove(dropTmp);
  }
  return {
    remove: { runs: dropRuns.length, trees: dropTrees.length, blobs: dropBlobs.length, tmp: dropTmp.length },
    keep: { runs: keptRuns.length, trees: keptTrees.size, blobs: keptBlobs.size },
    bytes,
    recent,
  };
}
