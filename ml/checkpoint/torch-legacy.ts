// The legacy torch.save format (torch < 1.6, or `_use_new_zipfile_serialization=False`), still the
// format of many 2019–2020 checkpoints on the hub: not a zip but five pickles in a row — a magic
// number, the protocol version (1001), sys_info, the object itself (whose tensors name their
// storages by key through persistent ids) and the sorted list of storage keys — followed by each
// storage's bytes in that order, each after an 8-byte little-endian element count. LegacyTorchFile
// presents it as the zip format's entries (`archive/data.pkl`, `archive/data/<key>`), so one reader
// serves both formats; storages are read from the file only when asked for.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { StageInputError } from 'fisherflow';
import { unpickleAt, type PickleGlobal, type PickleHooks } from './pickle.js';
import { DTYPE_BYTES, STORAGE_DTYPES } from './torch-storage.js';
import type { ZipEntry } from './zip.js';

/** The first pickle: protocol 2, LONG1 of 10 bytes = 0x1950a86a20f9469cfc6c (torch's MAGIC_NUMBER), STOP. */
const MAGIC_LONG = Buffer.from([0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
const PROTOCOL_VERSION = 1001;

/** Whether a file's first bytes are the legacy format's magic number (after an optional PROTO opcode). */
export function isLegacyTorchHeader(head: Buffer): boolean {
  const at = head[0] === 0x80 ? 2 : 0;
  return head.length >= at + MAGIC_LONG.length && head.subarray(at, at + MAGIC_LONG.length).equals(MAGIC_LONG);
}

/**
 * Hooks that build nothing of use: the structure pass only needs the storages' keys, types and
 * sizes. A reduced object is an empty map, so that an OrderedDict's items can still be set on it.
 */
const inert = (persistentLoad: PickleHooks['persistentLoad'] = () => null): PickleHooks => ({ reduce: () => new Map(), persistentLoad });

export class LegacyTorchFile {
  readonly entries = new Map<string, ZipEntry>();
  private fd: number | null;
  private pickle: Buffer = Buffer.alloc(0);

  private constructor(readonly path: string) {
    try { this.fd = openSync(path, 'r'); } catch (e) {
      throw new StageInputError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }

  static open(path: string): LegacyTorchFile {
    const f = new LegacyTorchFile(path);
    try {
      f.readStructure();
      return f;
    } catch (e) {
      f.close();
      throw e;
    }
  }

  private read(pos: number, len: number): Buffer {
    const buf = Buffer.allocUnsafe(len);
    let off = 0;
    while (off < len) {
      const r = readSync(this.fd!, buf, off, len - off, pos + off);
      if (r <= 0) throw new StageInputError(`${this.path}: unexpected end of file (truncated legacy torch checkpoint?)`);
      off += r;
    }
    return buf;
  }

  private readStructure(): void {
    const size = fstatSync(this.fd!).size;
    // The pickles are small next to the storages after them: read a head, and more if they need it.
    for (let headLen = Math.min(size, 1 << 20); ; headLen = Math.min(size, headLen * 4)) {
      const head = this.read(0, headLen);
      try {
        this.parse(head, size);
        return;
      } catch (e) {
        if (e instanceof StageInputError || headLen === size) {
          throw e instanceof StageInputError ? e : new StageInputError(`${this.path}: not a readable legacy torch checkpoint (${(e as Error).message})`);
        }
      }
    }
  }

  private parse(head: Buffer, size: number): void {
    if (!isLegacyTorchHeader(head)) throw new StageInputError(`${this.path}: no legacy torch magic number`);
    let p = unpickleAt(head, 0, inert(), this.path).end;
    const version = unpickleAt(head, p, inert(), this.path);
    if (version.value !== PROTOCOL_VERSION) throw new StageInputError(`${this.path}: legacy torch protocol version ${String(version.value)} is not supported (expected ${PROTOCOL_VERSION})`);
    const sysInfo = unpickleAt(head, version.end, inert(), this.path);
    if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
      throw new StageInputError(`${this.path}: written on a big-endian machine; only little-endian checkpoints are supported`);
    }
    p = sysInfo.end;
    const storages = new Map<string, { dtype: string; numel: number }>();
    const main = unpickleAt(head, p, inert((pid) => {
      const t = pid as unknown[];
      if (!Array.isArray(t) || t[0] !== 'storage') throw new StageInputError(`${this.path}: unsupported persistent id ${JSON.stringify(pid)}`);
      const g = t[1] as PickleGlobal;
      const dtype = STORAGE_DTYPES[g?.name];
      if (!dtype) throw new StageInputError(`${this.path}: unsupported storage type ${g?.module}.${g?.name}`);
      // Storage views (a sixth element) were written only by torch < 1.0 for storages that were views.
      if (t[5] !== null && t[5] !== undefined) throw new StageInputError(`${this.path}: a storage view (torch < 1.0) is not supported; load and save it again with a newer torch`);
      storages.set(String(t[2]), { dtype, numel: Number(t[4]) });
      return null;
    }), this.path);
    this.pickle = head.subarray(p, main.end);
    const keys = unpickleAt(head, main.end, inert(), this.path);
    if (!Array.isArray(keys.value)) throw new StageInputError(`${this.path}: the storage key list is missing`);
    this.entries.set('archive/data.pkl', { name: 'archive/data.pkl', method: 0, compressedSize: this.pickle.length, size: this.pickle.length, localHeaderOffset: p });
    let pos = keys.end;
    for (const k of keys.value as unknown[]) {
      const key = String(k);
      const st = storages.get(key);
      if (!st) throw new StageInputError(`${this.path}: storage ${key} is listed but no tensor uses it`);
      if (pos + 8 > size) throw new StageInputError(`${this.path}: unexpected end of file before storage ${key} (truncated?)`);
      const numel = Number(this.read(pos, 8).readBigInt64LE(0));
      if (numel !== st.numel) throw new StageInputError(`${this.path}: storage ${key} has ${numel} elements, its tensors say ${st.numel}`);
      const bytes = numel * DTYPE_BYTES[st.dtype];
      if (pos + 8 + bytes > size) throw new StageInputError(`${this.path}: unexpected end of file in storage ${key} (truncated?)`);
      const name = `archive/data/${key}`;
      this.entries.set(name, { name, method: 0, compressedSize: bytes, size: bytes, localHeaderOffset: pos + 8 });
      pos += 8 + bytes;
    }
  }

  /** An entry's bytes: the object's pickle, or one storage. */
  readEntry(name: string): Buffer {
    const en = this.entry(name);
    return name === 'archive/data.pkl' ? this.pickle : this.read(en.localHeaderOffset, en.size);
  }

  /** Bytes [from, from + length) of an entry. */
  readEntryRange(name: string, from: number, length: number): Buffer {
    const en = this.entry(name);
    if (from < 0 || from + length > en.size) throw new StageInputError(`${this.path}: bytes ${from}..${from + length} are outside "${name}" (${en.size} bytes)`);
    return name === 'archive/data.pkl' ? this.pickle.subarray(from, from + length) : this.read(en.localHeaderOffset + from, length);
  }

  private entry(name: string): ZipEntry {
    const en = this.entries.get(name);
    if (!en) throw new StageInputError(`${this.path}: storage "${name}" is missing`);
    return en;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
