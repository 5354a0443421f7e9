// Minimal random-access ZIP reader for torch.save archives (stored or deflated entries, ZIP64).
// torch.save writes an uncompressed zip whose entries are the pickle and one file per storage.
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { StageInputError } from 'fisherflow';

export interface ZipEntry { name: string; method: number; compressedSize: number; size: number; localHeaderOffset: number }

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private fd: number | null;
  readonly size: number;

  constructor(readonly path: string) {
    try { this.fd = openSync(path, 'r'); } catch (e) {
      throw new StageInputError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    this.size = fstatSync(this.fd).size;
    try { this.readCentralDirectory(); } catch (e) { this.close(); throw e; }
  }

  private read(pos: number, len: number): Buffer {
    const buf = Buffer.allocUnsafe(len);
    let off = 0;
    while (off < len) {
      const r = readSync(this.fd!, buf, off, len - off, pos + off);
      if (r <= 0) throw new StageInputError(`${this.path}: unexpected end of file (truncated zip?)`);
      off += r;
    }
    return buf;
  }

  private readCentralDirectory(): void {
    const tailLen = Math.min(this.size, 65557);
    const tail = this.read(this.size - tailLen, tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) if (tail.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
    if (eocd < 0) throw new StageInputError(`${this.path}: not a zip archive (a damaged or truncated torch.save checkpoint?)`);
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || tail.readUInt32LE(loc) !== 0x07064b50) throw new StageInputError(`${this.path}: ZIP64 locator missing`);
      const z64 = Number(tail.readBigUInt64LE(loc + 8));
      const rec = this.read(z64, 56);
      if (rec.readUInt32LE(0) !== 0x06064b50) throw new StageInputError(`${this.path}: bad ZIP64 end record`);
      count = Number(rec.readBigUInt64LE(32));
      cdSize = Number(rec.readBigUInt64LE(40));
      cdOffset = Number(rec.readBigUInt64LE(48));
    }
    const cd = this.read(cdOffset, cdSize);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new StageInputError(`${this.path}: bad zip central directory entry ${i}`);
      const method = cd.readUInt16LE(p + 10);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      // ZIP64 extra field: 8-byte values for each 32-bit field that is saturated, in this order.
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) { size = Number(cd.readBigUInt64LE(q)); q += 8; }
          if (compressedSize === 0xffffffff) { compressedSize = Number(cd.readBigUInt64LE(q)); q += 8; }
          if (localHeaderOffset === 0xffffffff) { localHeaderOffset = Number(cd.readBigUInt64LE(q)); q += 8; }
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p = eEnd + commentLen;
    }
  }

  private dataStart(name: string): { en: ZipEntry; start: number } {
    const en = this.entries.get(name);
    if (!en) throw new StageInputError(`${this.path}: zip entry "${name}" is missing`);
    const lh = this.read(en.localHeaderOffset, 30);
    if (lh.readUInt32LE(0) !== 0x04034b50) throw new StageInputError(`${this.path}: bad local header for "${name}"`);
    return { en, start: en.localHeaderOffset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28) };
  }

  /** Bytes [from, from + length) of an entry; only stored (uncompressed) entries are read in part. */
  readEntryRange(name: string, from: number, length: number): Buffer {
    const { en, start } = this.dataStart(name);
    if (from < 0 || from + length > en.size) throw new StageInputError(`${this.path}: bytes ${from}..${from + length} are outside zip entry "${name}" (${en.size} bytes)`);
    if (en.method === 0) return this.read(start + from, length);
    return this.readEntry(name).subarray(from, from + length);
  }

  /** The uncompressed bytes of one entry. */
  readEntry(name: string): Buffer {
    const { en, start } = this.dataStart(name);
    const raw = this.read(start, en.compressedSize);
    if (en.method === 0) return raw;
    if (en.method === 8) return inflateRawSync(raw);
    throw new StageInputError(`${this.path}: zip entry "${name}" uses unsupported compression method ${en.method}`);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
