// Download one result from a remote into the local store, trusting nothing on the way: the record
// must be the record of the key asked for, every blob must have the size and SHA-256 its manifest
// gives (checked as it streams in; a dropped connection resumes from the last byte), and the
// assembled folder must hash to the record's tree and outputs before the store installs it,
// atomically (ContentStore.install). Anything else is a RemoteError naming the remote key at fault,
// and nothing is installed.
import { createHash } from 'node:crypto';
import { constants, mkdirSync, rmSync } from 'node:fs';
import { chmod, copyFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import type PQueue from 'p-queue';
import { makeWritable, type ContentStore, type RunRecord } from '../store.js';
import { blobKey, parseManifest, parseRecord, recordKey, treeKey } from './layout.js';
import { RemoteError, type RemoteStore } from './remote-store.js';
import { withRetries } from './retry.js';
import type { TransferProgress } from './transfer-progress.js';

/** A small document's bytes, or undefined when the key does not exist. */
export async function readDocument(remote: RemoteStore, key: string): Promise<Buffer | undefined> {
  return withRetries(async () => {
    const stream = await remote.read(key);
    if (!stream) return undefined;
    const chunks: Buffer[] = [];
    try {
      for await (const c of stream) chunks.push(c as Buffer);
    } catch (e) {
      throw new RemoteError(remote.name, 'unreachable', `reading ${key} was cut off: ${(e as Error).message}`, true);
    }
    return Buffer.concat(chunks);
  });
}

/** Stream a blob to `dest`, checking its size and SHA-256; a cut-off read resumes where it stopped. */
async function downloadBlob(remote: RemoteStore, sha: string, size: number, dest: string, progress?: TransferProgress): Promise<void> {
  const key = blobKey(sha);
  const hash = createHash('sha256');
  let got = 0;
  const out = await open(dest, 'w');
  try {
    await withRetries(async () => {
      if (got > 0 && got === size) return;
      const stream = await remote.read(key, got);
      if (!stream) throw new RemoteError(remote.name, 'integrity', `${key} is missing (a result whose files are not all on the remote)`);
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          if (got + chunk.length > size) throw new RemoteError(remote.name, 'integrity', `${key} is longer than the ${size} bytes its manifest gives (damaged)`);
          hash.update(chunk);
          await out.write(chunk);
          got += chunk.length;
          progress?.advance(chunk.length);
        }
      } catch (e) {
        if (e instanceof RemoteError) throw e;
        throw new RemoteError(remote.name, 'unreachable', `reading ${key} was cut off after ${got} bytes: ${(e as Error).message}`, true);
      }
    });
  } finally {
    await out.close();
  }
  if (got !== size) throw new RemoteError(remote.name, 'integrity', `${key} is truncated (${got} of ${size} bytes)`);
  const digest = hash.digest('hex');
  if (digest !== sha) throw new RemoteError(remote.name, 'integrity', `${key} is corrupt: its content hashes to ${digest.slice(0, 16)}…, not to its name`);
  progress?.fileDone();
}

/** The remote's run record for `key` (checked to be that key's), or undefined when it has none. */
export async function readRemoteRecord(remote: RemoteStore, key: string): Promise<RunRecord | undefined> {
  const rk = recordKey(key);
  const bytes = await readDocument(remote, rk);
  return bytes && parseRecord(remote.name, rk, bytes, key);
}

/**
 * Files downloaded by this command, by SHA-256: a file that several results hold (a tokenizer
 * copied into every tokenize stage's output) is downloaded once and copied locally for the others,
 * from the staging folder it went to or from the object that folder became.
 */
export class DownloadedBlobs {
  private readonly where = new Map<string, Promise<string[] | undefined>>();

  /** Copy `sha` to `dest` from an earlier download; false when there is none to copy from. */
  async copy(sha: string, dest: string): Promise<boolean> {
    const sources = await this.where.get(sha);
    for (const src of sources ?? []) {
      try {
        await copyFile(src, dest, constants.COPYFILE_FICLONE);
        await chmod(dest, 0o644);
        return true;
      } catch {
        /* moved or removed since: try the next place, or download it */
      }
    }
    return false;
  }

  /** Whether another download of `sha` is under way or done (then wait and copy instead). */
  has(sha: string): boolean {
    return this.where.has(sha);
  }

  /** Record a download in progress: `done` resolves to the places the file can be copied from. */
  add(sha: string, done: Promise<string[] | undefined>): void {
    this.where.set(sha, done);
  }
}

/** Download the result `record` names and install it in the store; returns the installed record. */
export async function fetchResult(store: ContentStore, remote: RemoteStore, record: RunRecord, opts: { transfers: PQueue; progress?: TransferProgress; downloaded?: DownloadedBlobs }): Promise<RunRecord> {
  const tk = treeKey(record.tree);
  const bytes = await readDocument(remote, tk);
  if (!bytes) throw new RemoteError(remote.name, 'integrity', `${recordKey(record.key)} names ${tk}, which is missing (a record without its objects)`);
  const manifest = parseManifest(remote.name, tk, bytes, record.tree);
  const staging = store.staging(`pull-${record.key.slice(0, 12)}`);
  try {
    for (const d of manifest.dirs) mkdirSync(join(staging, d), { recursive: true });
    opts.progress?.expect(manifest.files.length, manifest.files.reduce((s, f) => s + f[1], 0));
    let failed: unknown;
    await Promise.all(
      manifest.files.map(([path, size, sha]) =>
        opts.transfers.add(async () => {
          if (failed) return;
          const dest = join(staging, path);
          mkdirSync(join(dest, '..'), { recursive: true });
          const downloaded = opts.downloaded;
          if (downloaded?.has(sha) && (await downloaded.copy(sha, dest))) {
            opts.progress?.resumed(size);
            opts.progress?.fileDone();
            return;
          }
          const done = downloadBlob(remote, sha, size, dest, opts.progress);
          downloaded?.add(sha, done.then(() => [dest, join(store.objectDir(record.tree), path)], () => undefined));
          await done.catch((e) => {
            failed ??= e;
          });
        }),
      ),
    );
    if (failed) throw failed;
    try {
      return store.install(record, staging);
    } catch (e) {
      throw new RemoteError(remote.name, 'integrity', `${recordKey(record.key)} and ${tk} do not agree: ${(e as Error).message}`);
    }
  } finally {
    makeWritable(staging);
    rmSync(staging, { recursive: true, force: true });
  }
}
