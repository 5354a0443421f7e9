// What every kind of remote store implements (S3, a plain directory, ...): a flat namespace of
// keys holding bytes. The kinds only move bytes; which keys exist and what they mean (blobs,
// tree manifests, run records, and in which order they are written) is decided above them
// (layout.ts, push.ts, pull.ts), and nothing a remote returns is trusted before it is verified.
// A third kind is one file implementing `RemoteStore`, named in the table of kinds (kinds.ts).
import type { Readable } from 'node:stream';
import { ExitCode, FisherflowError } from '../../errors.js';

export interface RemoteEntry {
  key: string;
  size: number;
  /** Last modification, ms since the epoch (gc keeps recent entries). */
  modified: number;
}

export interface WriteFileOptions {
  size: number;
  /** SHA-256 of the content (hex): the remote rejects or never shows content that does not match. */
  sha256: string;
  /** Called with byte counts as the content is stored. */
  onBytes?: (n: number) => void;
  /** Called with the bytes a resumed upload found already stored (not sent again). */
  onResumed?: (n: number) => void;
}

export interface RemoteStore {
  /** The name the config gives it ('lab'). */
  readonly name: string;
  /** Where it is, for messages ('s3://bucket/prefix', '/shared/cache'). */
  readonly url: string;
  /** Every key that starts with `prefix` ('runs/ab/'), with sizes. */
  list(prefix: string): Promise<RemoteEntry[]>;
  /** The content from byte `offset` on, or undefined when there is no such key. */
  read(key: string, offset?: number): Promise<Readable | undefined>;
  /** Store a local file under `key`; readers see nothing until it is complete. */
  writeFile(key: string, file: string, opts: WriteFileOptions): Promise<void>;
  /** Store a small document under `key`, atomically. */
  writeBytes(key: string, data: Uint8Array): Promise<void>;
  /** Remove keys (missing ones are no error). */
  remove(keys: string[]): Promise<void>;
  close(): void;
}

export type RemoteProblem =
  /** Cannot be reached (connection refused, DNS, timeout, an unmounted share). */
  | 'unreachable'
  /** Reached, but refused this user (credentials, permissions). */
  | 'denied'
  /** Content that does not match its hash, truncated, or malformed. */
  | 'integrity'
  /** The remote's configuration is wrong (no such bucket, no region). */
  | 'config'
  | 'other';

/** A remote operation failed; the message names the remote and, where one is involved, the key. Exit 1. */
export class RemoteError extends FisherflowError {
  constructor(
    readonly remote: string,
    readonly problem: RemoteProblem,
    message: string,
    /** Worth trying again (5xx, throttling, a dropped connection). */
    readonly retryable = false,
  ) {
    super(`remote '${remote}': ${message}`, ExitCode.stageFailed);
  }
}
