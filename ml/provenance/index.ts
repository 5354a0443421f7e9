// How a stage names what it read in its output's metadata: a path that does not depend on where
// the store lives, and a content hash.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * A name for the output's metadata that does not depend on where the store lives: an upstream
 * artifact is named by its file or folder name only (its content is identified by a hash beside
 * it, or by the lock file), so the metadata does not change with the store's location; a user's
 * own path is kept as given.
 */
export function portablePath(p: string): string {
  const norm = p.replace(/\\/g, '/');
  return /\/objects\/[0-9a-f]{2}\/[0-9a-f]{62}\//.test(norm) ? norm.slice(norm.lastIndexOf('/') + 1) : p;
}
