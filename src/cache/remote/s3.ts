// A remote in an S3 bucket (AWS, or MinIO/Ceph/s3rver through `endpoint` and path-style URLs),
// through the AWS SDK v3. The SDK costs ~0.4 s to import, so it is loaded only when a remote of
// this kind is opened. Credentials, region and profile come from the standard AWS environment
// and files (AWS_ACCESS_KEY_ID, AWS_PROFILE, ~/.aws/credentials, ...) unless the config names them.
//
// What is checked and by whom: every upload carries its SHA-256 (ChecksumSHA256), which S3 itself
// verifies; and the content is hashed here as it is read, so a local file that changed under an
// upload is never left under its old name. ETags are never taken for content hashes (a multipart
// ETag is not an MD5 of anything); they are only handed back to CompleteMultipartUpload.
//
// Large files go up in parts, resumably: a journal in the local store (remote-uploads/) records the
// upload id and each part acknowledged, with the part's SHA-256, so a push that was killed
// continues where it stopped instead of starting the 430 MB checkpoint again (a part whose local
// bytes changed since is sent again). The journal is removed once the upload completes.
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import type * as S3Sdk from '@aws-sdk/client-s3';
import { RemoteError, type RemoteEntry, type RemoteStore, type WriteFileOptions } from './remote-store.js';
import { withRetries } from './retry.js';
import { writeFileAtomic } from '../atomic-write.js';
import type { RemoteSpec } from './remote-config.js';

/** The remote's config (multipart_threshold default 64 MiB, part_size 16 MiB; S3 wants parts of at least 5 MiB but the last). */
export interface S3RemoteOptions extends Pick<RemoteSpec, 'url' | 'region' | 'endpoint' | 'pathStyle' | 'profile' | 'multipartThreshold' | 'partSize'> {
  /** Parts of one file in flight at once (default 4). */
  partConcurrency?: number;
  /** Folder for the resumable-upload journals. */
  journalDir: string;
}

const MiB = 1024 * 1024;

interface UploadJournal {
  version: 1;
  url: string;
  key: string;
  size: number;
  sha256: string;
  partSize: number;
  uploadId: string;
  /** part number → [ETag as the server gave it, SHA-256 of the part (base64)] */
  parts: Record<string, [string, string]>;
}

type Sdk = typeof S3Sdk;

export class S3Remote implements RemoteStore {
  readonly url: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private constructor(
    readonly name: string,
    private readonly opts: S3RemoteOptions,
    private readonly sdk: Sdk,
    private readonly client: S3Sdk.S3Client,
  ) {
    this.url = opts.url;
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(opts.url)!;
    this.bucket = m[1];
    this.prefix = m[2] ? `${m[2].replace(/\/+$/, '')}/` : '';
  }

  static async open(name: string, opts: S3RemoteOptions): Promise<S3Remote> {
    // The SDK warns on Node 20 that its releases after January 2027 will need Node 22: nothing
    // a fisherflow user can act on, printed on every command (see docs/dev-notes-remote.md).
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const sdk = await import('@aws-sdk/client-s3');
    // A custom endpoint (MinIO, Ceph, s3rver) rarely has regions; the SDK still wants one to sign.
    const region = opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (opts.endpoint ? 'us-east-1' : undefined);
    const client = new sdk.S3Client({
      region,
      endpoint: opts.endpoint,
      forcePathStyle: opts.pathStyle,
      profile: opts.profile,
      // Retries are ours (retry.ts): the SDK cannot resend a stream it has consumed.
      maxAttempts: 1,
      // Checksums are ours too: SHA-256, sent as a header. The SDK's default (CRC32 in an
      // aws-chunked trailer) is not understood by every S3-compatible server.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 5000, requestTimeout: 120_000 },
    });
    return new S3Remote(name, opts, sdk, client);
  }

  /** An SDK or network error as a RemoteError: denied, unreachable, misconfigured, retryable or not. */
  private failure(e: unknown, what: string): RemoteError {
    if (e instanceof RemoteError) return e;
    const err = e as { name?: string; Code?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const code = err.Code ?? err.name ?? '';
    const status = err.$metadata?.httpStatusCode;
    const msg = `${what}: ${code && code !== 'Error' ? `${code}: ` : ''}${err.message ?? String(e)}`;
    const net = err.code ?? '';
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(net) || code === 'TimeoutError' || code === 'RequestTimeout') {
      return new RemoteError(this.name, 'unreachable', `${this.url} is unreachable (${msg})`, true);
    }
    if (net === 'ENOTFOUND') return new RemoteError(this.name, 'unreachable', `${this.url} is unreachable (${msg})`);
    if (code === 'CredentialsProviderError') return new RemoteError(this.name, 'denied', `no AWS credentials (${err.message}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or \`profile:\` in the remote's config`);
    if (['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'AllAccessDisabled'].includes(code) || status === 403 || status === 401) {
      return new RemoteError(this.name, 'denied', `${this.url} refused access (${msg}); check the credentials and the bucket's permissions`);
    }
    if (code === 'NoSuchBucket') return new RemoteError(this.name, 'config', `bucket '${this.bucket}' does not exist (${this.url})`);
    if (/region/i.test(err.message ?? '') && !status) return new RemoteError(this.name, 'config', `${msg}; set \`region:\` in the remote's config or AWS_REGION`);
    const throttled = ['SlowDown', 'Throttling', 'ThrottlingException', 'RequestThrottled', 'TooManyRequests', 'InternalError', 'ServiceUnavailable'].includes(code);
    const retryable = throttled || status === 429 || (status !== undefined && status >= 500);
    return new RemoteError(this.name, 'other', msg, retryable);
  }

  private async send<T>(what: string, op: () => Promise<T>): Promise<T> {
    return withRetries(async () => {
      try {
        return await op();
      } catch (e) {
        throw this.failure(e, what);
      }
    });
  }

  async list(prefix: string): Promise<RemoteEntry[]> {
    const out: RemoteEntry[] = [];
    let token: string | undefined;
    do {
      const page = await this.send(`listing ${prefix}`, () => this.client.send(new this.sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token })));
      for (const o of page.Contents ?? []) {
        if (o.Key) out.push({ key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, modified: o.LastModified?.getTime() ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async read(key: string, offset = 0): Promise<Readable | undefined> {
    try {
      const r = await this.send(`reading ${key}`, () => this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Range: offset > 0 ? `bytes=${offset}-` : undefined })));
      return r.Body as Readable;
    } catch (e) {
      const err = e as RemoteError;
      if (/NoSuchKey|NotFound/.test(err.message)) return undefined;
      throw e;
    }
  }

  async writeBytes(key: string, data: Uint8Array): Promise<void> {
    const sum = createHash('sha256').update(data).digest('base64');
    await this.send(`writing ${key}`, () => this.client.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: data, ContentLength: data.length, ChecksumSHA256: sum })));
  }

  async writeFile(key: string, file: string, opts: WriteFileOptions): Promise<void> {
    if (opts.size >= (this.opts.multipartThreshold ?? 64 * MiB)) return this.writeMultipart(key, file, opts);
    const checksum = Buffer.from(opts.sha256, 'hex').toString('base64');
    await withRetries(async () => {
      const hash = createHash('sha256');
      let sent = 0;
      const body = createReadStream(file).pipe(
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            sent += chunk.length;
            done(null, chunk);
          },
        }),
      );
      try {
        await this.client.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: body, ContentLength: opts.size, ChecksumSHA256: checksum }));
      } catch (e) {
        throw this.failure(e, `writing ${key}`);
      }
      if (hash.digest('hex') !== opts.sha256) {
        await this.remove([key]);
        throw new RemoteError(this.name, 'integrity', `${file} changed while it was being uploaded; removed ${key} again`);
      }
      opts.onBytes?.(sent);
    });
  }

  private journalPath(key: string): string {
    return join(this.opts.journalDir, `${createHash('sha256').update(`${this.url}\n${key}`).digest('hex').slice(0, 32)}.json`);
  }

  private async saveJournal(path: string, j: UploadJournal): Promise<void> {
    writeFileAtomic(path, JSON.stringify(j), 'the upload journal');
  }

  private async loadJournal(path: string, key: string, opts: WriteFileOptions, partSize: number): Promise<UploadJournal | undefined> {
    try {
      const j = JSON.parse(await readFile(path, 'utf8')) as UploadJournal;
      if (j.version === 1 && j.url === this.url && j.key === key && j.size === opts.size && j.sha256 === opts.sha256 && j.partSize === partSize && j.uploadId && j.parts) return j;
    } catch {
      /* none, or unreadable: start afresh */
    }
    return undefined;
  }

  /** Multipart upload that resumes from its journal; restarts once if the server forgot the upload. */
  private async writeMultipart(key: string, file: string, opts: WriteFileOptions, restarted = false): Promise<void> {
    const partSize = Math.max(this.opts.partSize ?? 16 * MiB, Math.ceil(opts.size / 10_000));
    const parts = Math.max(1, Math.ceil(opts.size / partSize));
    await mkdir(this.opts.journalDir, { recursive: true });
    const jpath = this.journalPath(key);
    let journal = await this.loadJournal(jpath, key, opts, partSize);
    if (!journal) {
      const created = await this.send(`starting the upload of ${key}`, () =>
        this.client.send(new this.sdk.CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + key, ChecksumAlgorithm: 'SHA256' })),
      );
      journal = { version: 1, url: this.url, key, size: opts.size, sha256: opts.sha256, partSize, uploadId: created.UploadId!, parts: {} };
      await this.saveJournal(jpath, journal);
    }
    const j = journal;
    const whole = createHash('sha256');
    const fh = await open(file, 'r');
    const inFlight = new Set<Promise<void>>();
    let failed: unknown;
    let saving = Promise.resolve();
    try {
      // Parts are read in order (the whole file's hash), sent a few at a time.
      for (let n = 1; n <= parts && failed === undefined; n++) {
        const len = Math.min(partSize, opts.size - (n - 1) * partSize);
        const buf = Buffer.allocUnsafe(len);
        const { bytesRead } = await fh.read(buf, 0, len, (n - 1) * partSize);
        if (bytesRead !== len) throw new RemoteError(this.name, 'integrity', `${file} is shorter than when it was hashed`);
        whole.update(buf);
        const sum = createHash('sha256').update(buf).digest('base64');
        if (j.parts[n]?.[1] === sum) {
          opts.onResumed?.(len);
          continue;
        }
        while (inFlight.size >= (this.opts.partConcurrency ?? 4)) await Promise.race(inFlight);
        const p: Promise<void> = this.send(`uploading part ${n} of ${key}`, () =>
          this.client.send(new this.sdk.UploadPartCommand({ Bucket: this.bucket, Key: this.prefix + key, UploadId: j.uploadId, PartNumber: n, Body: buf, ContentLength: len, ChecksumSHA256: sum })),
        ).then(
          (r) => {
            j.parts[n] = [r.ETag ?? '', sum];
            saving = saving.then(() => this.saveJournal(jpath, j));
            opts.onBytes?.(len);
          },
          (e) => {
            failed ??= e;
          },
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
      await Promise.all(inFlight);
      await saving;
    } finally {
      await fh.close();
    }
    if (failed !== undefined) {
      if (!restarted && /NoSuchUpload/.test((failed as Error).message)) {
        await rm(jpath, { force: true });
        return this.writeMultipart(key, file, opts, true);
      }
      throw failed;
    }
    if (whole.digest('hex') !== opts.sha256) {
      await rm(jpath, { force: true });
      await this.client.send(new this.sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + key, UploadId: j.uploadId })).catch(() => {});
      throw new RemoteError(this.name, 'integrity', `${file} changed since it was hashed; its upload was abandoned`);
    }
    try {
      await this.send(`completing the upload of ${key}`, () =>
        this.client.send(
          new this.sdk.CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: this.prefix + key,
            UploadId: j.uploadId,
            MultipartUpload: { Parts: Array.from({ length: parts }, (_, i) => ({ PartNumber: i + 1, ETag: j.parts[i + 1][0], ChecksumSHA256: j.parts[i + 1][1] })) },
          }),
        ),
      );
    } catch (e) {
      if (!restarted && /NoSuchUpload|InvalidPart/.test((e as Error).message)) {
        await rm(jpath, { force: true });
        return this.writeMultipart(key, file, opts, true);
      }
      throw e;
    }
    await rm(jpath, { force: true });
  }

  async remove(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const r = await this.send(`removing ${batch.length} keys`, () =>
        this.client.send(new this.sdk.DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.prefix + k })), Quiet: true } })),
      );
      const err = r.Errors?.[0];
      if (err) throw this.failure({ name: err.Code, message: `${err.Key}: ${err.Message}` }, `removing ${err.Key?.slice(this.prefix.length)}`);
    }
  }

  close(): void {
    this.client.destroy();
  }
}
