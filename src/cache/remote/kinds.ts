// The kinds of remote, by what their URL looks like: each is one module implementing RemoteStore,
// imported only when a remote of that kind is used (the S3 SDK alone costs ~0.4 s to load).
// A new kind is one more file and one more line here (and its URL form in remote-config.ts).
import { join } from 'node:path';
import type { RemoteSpec } from './remote-config.js';
import type { RemoteStore } from './remote-store.js';

const KINDS: Record<RemoteSpec['kind'], (spec: RemoteSpec, storeRoot: string) => Promise<RemoteStore>> = {
  s3: async (spec, storeRoot) => {
    const { S3Remote } = await import('./s3.js');
    return S3Remote.open(spec.name, { ...spec, journalDir: join(storeRoot, 'remote-uploads') });
  },
  directory: async (spec) => {
    const { DirectoryRemote } = await import('./directory.js');
    return new DirectoryRemote(spec.name, spec.path!);
  },
};

/** Transfers in flight at once unless the remote's config says otherwise. */
export const DEFAULT_CONCURRENCY: Record<RemoteSpec['kind'], number> = { s3: 8, directory: 4 };

/** Open the remote `spec` describes; `storeRoot` is the local store (resumable uploads keep their journal there). */
export function openRemote(spec: RemoteSpec, storeRoot: string): Promise<RemoteStore> {
  return KINDS[spec.kind](spec, storeRoot);
}
