// A remote that is a plain folder: an NFS or SMB share, a mounted bucket, a second disk. Keys are
// paths under it. Files are written to its tmp/ first, flushed (fsync), and renamed into place, so
// readers (and a concurrent push of the same file) never see a partial one. The folder itself must
// exist: a share that is not mounted must not be silently replaced by an empty local folder.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RemoteError, type RemoteEntry, type RemoteStore, type WriteFileOptions } from './remote-store.js';

export class DirectoryRemote implements RemoteStore {
  readonly url: string;
  private checked?: Promise<void>;

  constructor(
    readonly name: string,
    readonly root: string,
  ) {
    this.url = root;
  }

  /** Fails (unreachable) when the folder is not there, once per process. */
  private ready(): Promise<void> {
    return (this.checked ??= stat(this.root).then(
      (st) => {
        if (!st.isDirectory()) throw new RemoteError(this.name, 'config', `${this.root} is not a folder`);
      },
      (e: NodeJS.ErrnoException) => {
        throw e.code === 'ENOENT' ? new RemoteError(this.name, 'unreachable', `${this.root} does not exist (is the share mounted? create the folder to start a new remote)`) : this.failure(e, this.root);
      },
    ));
  }

  /** An fs error as a RemoteError saying what was being done where. */
  private failure(e: NodeJS.ErrnoException, path: string, doing = 'access'): RemoteError {
    const code = e.code ?? '';
    if (e instanceof RemoteError) return e;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new RemoteError(this.name, 'denied', `cannot ${doing} ${path}: permission denied (${code})`);
    const transient = ['EIO', 'ESTALE', 'ETIMEDOUT', 'EAGAIN', 'EBUSY', 'EINTR'].includes(code);
    return new RemoteError(this.name, transient ? 'unreachable' : 'other', `cannot ${doing} ${path}: ${e.message}`, transient);
  }

  async list(prefix: string): Promise<RemoteEntry[]> {
    await this.ready();
    const out: RemoteEntry[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(join(this.root, rel), { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw this.failure(e as NodeJS.ErrnoException, join(this.root, rel), 'list');
      }
      await Promise.all(
        entries.map(async (e) => {
          const key = `${rel}${e.name}`;
          if (e.isDirectory()) return walk(`${key}/`);
          if (!e.isFile()) return;
          try {
            const st = await stat(join(this.root, key));
            out.push({ key, size: st.size, modified: st.mtimeMs });
          } catch {
            /* removed while listing */
          }
        }),
      );
    };
    await walk(prefix.endsWith('/') ? prefix : `${prefix}/`);
    return out;
  }

  async read(key: string, offset = 0): Promise<Readable | undefined> {
    await this.ready();
    const path = join(this.root, key);
    try {
      const fh = await open(path, 'r');
      return createReadStream('', { fd: fh, start: offset, autoClose: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw this.failure(e as NodeJS.ErrnoException, path, 'read');
    }
  }

  /** Write to tmp/, flush, then rename to `key`. `fill` writes the content into the temp file's stream. */
  private async place(key: string, fill: (tmp: string) => Promise<void>): Promise<void> {
    await this.ready();
    const dest = join(this.root, key);
    const tmpDir = join(this.root, 'tmp');
    const tmp = join(tmpDir, `${key.replace(/\//g, '_')}.${process.pid}.${randomBytes(4).toString('hex')}`);
    try {
      await mkdir(tmpDir, { recursive: true });
      await fill(tmp);
      const fh = await open(tmp, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await mkdir(dirname(dest), { recursive: true });
      await rename(tmp, dest);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => {});
      throw this.failure(e as NodeJS.ErrnoException, dest, 'write');
    }
  }

  async writeFile(key: string, file: string, opts: WriteFileOptions): Promise<void> {
    await this.place(key, async (tmp) => {
      const hash = createHash('sha256');
      let size = 0;
      const count = new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          size += chunk.length;
          opts.onBytes?.(chunk.length);
          done(null, chunk);
        },
      });
      await pipeline(createReadStream(file), count, createWriteStream(tmp));
      const sha = hash.digest('hex');
      // The local file changed since it was hashed: store nothing under a name it no longer has.
      if (size !== opts.size || sha !== opts.sha256) throw new RemoteError(this.name, 'integrity', `${file} changed while it was being copied (SHA-256 ${sha.slice(0, 12)}…, expected ${opts.sha256.slice(0, 12)}…)`);
    });
  }

  async writeBytes(key: string, data: Uint8Array): Promise<void> {
    await this.place(key, async (tmp) => {
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(data);
      } finally {
        await fh.close();
      }
    });
  }

  async remove(keys: string[]): Promise<void> {
    await this.ready();
    for (const key of keys) {
      try {
        await unlink(join(this.root, key));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw this.failure(e as NodeJS.ErrnoException, join(this.root, key), 'remove');
      }
    }
  }

  close(): void {}
}
