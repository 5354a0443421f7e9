// Opens a torch.save file, whichever of its two formats it is in, as entries `…/data.pkl` (the
// pickled object) and `…/data/<key>` (one per storage): the zip format of torch >= 1.6 is a zip of
// exactly that, the legacy format (torch-legacy.ts) is presented the same way.
import { closeSync, openSync, readSync } from 'node:fs';
import { StageInputError } from 'fisherflow';
import { ZipReader, type ZipEntry } from './zip.js';
import { isLegacyTorchHeader, LegacyTorchFile } from './torch-legacy.js';

export interface TorchArchive {
  readonly path: string;
  readonly entries: Map<string, ZipEntry>;
  readEntry(name: string): Buffer;
  readEntryRange(name: string, from: number, length: number): Buffer;
  close(): void;
}

export function openTorchArchive(path: string): TorchArchive {
  const head = Buffer.alloc(512);
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (e) {
    throw new StageInputError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let n: number;
  try { n = readSync(fd, head, 0, head.length, 0); } finally { closeSync(fd); }
  const start = head.subarray(0, n);
  if (start.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))) return new ZipReader(path);
  if (isLegacyTorchHeader(start)) return LegacyTorchFile.open(path);
  if (start.toString('latin1').startsWith('version https://git-lfs')) {
    throw new StageInputError(`${path}: a Git LFS pointer, not the weights (run \`git lfs pull\` in that repository, or download the file itself)`);
  }
  if (n >= 262 && start.toString('latin1', 257, 262) === 'ustar') {
    throw new StageInputError(`${path}: a tar archive, the format of torch < 0.4, which is not supported; load and save it again with a newer torch`);
  }
  throw new StageInputError(`${path}: not a PyTorch checkpoint (neither the zip format of torch >= 1.6 nor the legacy pickle format)`);
}
