// Upload results from the local store to a remote, in the order that keeps every reader safe:
// a result's blobs first, then its tree manifest, then its run record (layout.ts). What the remote
// already holds is learnt by listing (remote-index.ts); blobs go up in parallel, each at most
// once per push however many results share it. A killed push leaves only complete files behind
// (and the journal of a large upload), so pushing again sends just what is missing.
import PQueue from 'p-queue';
import type { ContentStore, RunRecord } from '../store.js';
import { blobKey, manifestOf, recordKey, treeKey, type TreeManifest } from './layout.js';
import { RemoteIndex } from './remote-index.js';
import { RemoteError, type RemoteStore } from './remote-store.js';
import type { TransferProgress } from './transfer-progress.js';

export interface PushItem {
  stage: string;
  record: RunRecord;
}

export interface PushReport {
  /** Stages whose results were uploaded (in part or whole). */
  pushed: string[];
  /** Stages whose results the remote already had. */
  present: string[];
  /** Stages not pushed, and why (a damaged local result). */
  skipped: Array<{ stage: string; why: string }>;
}

export interface PushOptions {
  concurrency: number;
  progress?: TransferProgress;
  index?: RemoteIndex;
}

export async function pushResults(store: ContentStore, remote: RemoteStore, items: PushItem[], opts: PushOptions): Promise<PushReport> {
  const index = opts.index ?? new RemoteIndex(remote);
  const report: PushReport = { pushed: [], present: [], skipped: [] };
  await Promise.all([index.prefetch('runs', items.map((i) => i.record.key)), index.prefetch('trees', items.map((i) => i.record.tree))]);

  // A record with its manifest on the remote is complete (both are written after what they name).
  const todo: PushItem[] = [];
  for (const it of items) {
    if ((await index.get('runs', it.record.key)) && (await index.get('trees', it.record.tree))) report.present.push(it.stage);
    else todo.push(it);
  }
  // Never upload a damaged local result: the remote would serve it to everyone.
  const manifests = new Map<string, TreeManifest>();
  const needTree = new Map<string, boolean>();
  const ready: PushItem[] = [];
  for (const it of todo) {
    const damage = store.verify(it.record);
    if (damage) {
      report.skipped.push({ stage: it.stage, why: `${damage}; rerun it before pushing` });
      continue;
    }
    ready.push(it);
    if (!needTree.has(it.record.tree)) {
      const there = await index.get('trees', it.record.tree);
      needTree.set(it.record.tree, !there);
      if (!there) manifests.set(it.record.tree, manifestOf(store.objectDir(it.record.tree), it.record));
    }
  }

  // Blobs the manifests name that the remote lacks (or holds with the wrong size: re-sent).
  const blobSources = new Map<string, { file: string; size: number }>();
  for (const [tree, m] of manifests) for (const [path, size, sha] of m.files) if (!blobSources.has(sha)) blobSources.set(sha, { file: `${store.objectDir(tree)}/${path}`, size });
  await index.prefetch('blobs', blobSources.keys());
  const missing: Array<[string, { file: string; size: number }]> = [];
  for (const [sha, src] of blobSources) if ((await index.get('blobs', sha))?.size !== src.size) missing.push([sha, src]);
  opts.progress?.expect(missing.length, missing.reduce((s, [, b]) => s + b.size, 0));

  const transfers = new PQueue({ concurrency: opts.concurrency });
  let firstError: unknown;
  // true when done; undefined after a failure (the first one is rethrown at the end).
  const guard = (p: Promise<unknown>): Promise<true | undefined> =>
    p.then(
      () => true as const,
      (e) => {
        firstError ??= e;
        return undefined;
      },
    );
  const uploads = new Map<string, Promise<true | undefined>>();
  for (const [sha, src] of missing) {
    uploads.set(
      sha,
      guard(
        transfers.add(async () => {
          // After a failure, queued transfers are not started.
          if (firstError) throw firstError;
          await remote.writeFile(blobKey(sha), src.file, { size: src.size, sha256: sha, onBytes: (n) => opts.progress?.advance(n), onResumed: (n) => opts.progress?.resumed(n) });
          opts.progress?.fileDone();
        }),
      ),
    );
  }
  const treesDone = new Map<string, Promise<boolean>>();
  const treeDone = (tree: string): Promise<boolean> => {
    let p = treesDone.get(tree);
    if (!p) {
      p = (async () => {
        if (!needTree.get(tree)) return true;
        const m = manifests.get(tree)!;
        const oks = await Promise.all(m.files.map(([, , sha]) => uploads.get(sha) ?? true));
        if (firstError || oks.some((ok) => !ok)) return false;
        return (await guard(remote.writeBytes(treeKey(tree), Buffer.from(JSON.stringify(m))))) === true;
      })();
      treesDone.set(tree, p);
    }
    return p;
  };
  await Promise.all(
    ready.map(async (it) => {
      if (!(await treeDone(it.record.tree))) return;
      if (await guard(remote.writeBytes(recordKey(it.record.key), Buffer.from(JSON.stringify(it.record, null, 1))))) report.pushed.push(it.stage);
    }),
  );
  await transfers.onIdle();
  if (firstError) throw firstError instanceof RemoteError ? firstError : new RemoteError(remote.name, 'other', (firstError as Error).message);
  return report;
}
