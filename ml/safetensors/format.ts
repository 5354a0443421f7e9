// The safetensors file format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__:
// {string: string}}, then the raw little-endian tensor bytes. Hand-written because there is no
// maintained Node reader/writer and the format is this small.
import { openSync, readSync, closeSync, writeSync, fstatSync, renameSync, rmSync } from 'node:fs';
import { StageInputError } from 'fisherflow';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
export const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface TensorInfo { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }

export interface TensorToWrite {
  name: string;
  shape: number[];
  /** F32 data (Float32Array), or int32 (Int32Array, written as I32), or float64 (Float64Array). */
  data: Float32Array | Int32Array | Float64Array;
}

/** Random-access reader: parses the header and reads tensors one at a time (files can be GBs). */
export class SafetensorsFile {
  readonly tensors = new Map<string, TensorInfo>();
  readonly metadata: Record<string, string>;
  private readonly dataStart: number;
  private fd: number | null;

  private constructor(readonly path: string, fd: number, header: Record<string, unknown>, dataStart: number) {
    this.fd = fd;
    this.dataStart = dataStart;
    this.metadata = (header.__metadata__ as Record<string, string>) ?? {};
    for (const [name, v] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const t = v as { dtype: SafetensorsDtype; shape: number[]; data_offsets: [number, number] };
      if (!t || !(t.dtype in DTYPE_BYTES) || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets)) {
        throw new StageInputError(`${path}: tensor "${name}" has a malformed header entry (expected dtype, shape, data_offsets)`);
      }
      const numel = t.shape.reduce((a, b) => a * b, 1);
      const [begin, end] = t.data_offsets;
      if (end - begin !== numel * DTYPE_BYTES[t.dtype]) {
        throw new StageInputError(`${path}: tensor "${name}" has ${end - begin} bytes, expected ${numel * DTYPE_BYTES[t.dtype]} for ${t.dtype}${JSON.stringify(t.shape)}`);
      }
      this.tensors.set(name, { name, dtype: t.dtype, shape: t.shape, begin, end });
    }
  }

  static open(path: string): SafetensorsFile {
    let fd: number;
    try { fd = openSync(path, 'r'); } catch (e) {
      throw new StageInputError(`${path}: cannot open safetensors file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    try {
      const size = fstatSync(fd).size;
      const lenBuf = Buffer.alloc(8);
      if (size < 8 || readSync(fd, lenBuf, 0, 8, 0) !== 8) throw new StageInputError(`${path}: too short to be a safetensors file`);
      const n = Number(lenBuf.readBigUInt64LE(0));
      if (n <= 0 || 8 + n > size || n > 100 * 1024 * 1024) throw new StageInputError(`${path}: not a safetensors file (header length ${n} for a file of ${size} bytes)`);
      const hb = Buffer.alloc(n);
      readSync(fd, hb, 0, n, 8);
      let header: Record<string, unknown>;
      try { header = JSON.parse(hb.toString('utf8')); } catch {
        throw new StageInputError(`${path}: the safetensors header is not valid JSON`);
      }
      const f = new SafetensorsFile(path, fd, header, 8 + n);
      for (const t of f.tensors.values()) {
        if (f.dataStart + t.end > size) throw new StageInputError(`${path}: tensor "${t.name}" extends past the end of the file (truncated?)`);
      }
      return f;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  names(): string[] { return [...this.tensors.keys()]; }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new StageInputError(`${this.path}: no tensor named "${name}"`);
    return t;
  }

  /** Raw bytes of one tensor. */
  readBytes(name: string): Buffer {
    const t = this.info(name);
    if (this.fd === null) throw new Error(`${this.path}: file already closed`);
    const buf = Buffer.allocUnsafe(t.end - t.begin);
    let off = 0;
    while (off < buf.length) {
      const r = readSync(this.fd, buf, off, buf.length - off, this.dataStart + t.begin + off);
      if (r <= 0) throw new StageInputError(`${this.path}: unexpected end of file in tensor "${name}"`);
      off += r;
    }
    return buf;
  }

  /** Elements [start, start + count) of a tensor as float32, for streaming through large tensors. */
  readFloat32Range(name: string, start: number, count: number): Float32Array {
    const t = this.info(name);
    const bytes = DTYPE_BYTES[t.dtype];
    if (start < 0 || count < 0 || (start + count) * bytes > t.end - t.begin) throw new Error(`${this.path}: elements ${start}..${start + count} are outside tensor "${name}"`);
    if (this.fd === null) throw new Error(`${this.path}: file already closed`);
    const buf = Buffer.allocUnsafe(count * bytes);
    let off = 0;
    const pos = this.dataStart + t.begin + start * bytes;
    while (off < buf.length) {
      const r = readSync(this.fd, buf, off, buf.length - off, pos + off);
      if (r <= 0) throw new StageInputError(`${this.path}: unexpected end of file in tensor "${name}"`);
      off += r;
    }
    return toFloat32(buf, t.dtype);
  }

  /** One tensor as float32 (converting F16, BF16, F64 and integer dtypes). */
  readFloat32(name: string): Float32Array {
    const t = this.info(name);
    return toFloat32(this.readBytes(name), t.dtype);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Converts little-endian raw bytes of `dtype` to a fresh Float32Array. */
export function toFloat32(buf: Buffer, dtype: SafetensorsDtype | string): Float32Array {
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  switch (dtype) {
    case 'F32': return new Float32Array(ab);
    case 'F64': return Float32Array.from(new Float64Array(ab));
    case 'F16': {
      const h = new Uint16Array(ab);
      const out = new Float32Array(h.length);
      for (let i = 0; i < h.length; i++) out[i] = halfToFloat(h[i]);
      return out;
    }
    case 'BF16': {
      const h = new Uint16Array(ab);
      const u = new Uint32Array(h.length);
      for (let i = 0; i < h.length; i++) u[i] = h[i] << 16;
      return new Float32Array(u.buffer);
    }
    case 'I64': return Float32Array.from(new BigInt64Array(ab), (x) => Number(x));
    case 'I32': return Float32Array.from(new Int32Array(ab));
    case 'I16': return Float32Array.from(new Int16Array(ab));
    case 'I8': return Float32Array.from(new Int8Array(ab));
    case 'U8': case 'BOOL': return Float32Array.from(new Uint8Array(ab));
    default: throw new Error(`unsupported dtype ${dtype}`);
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** A tensor's header entry, declared before its data is written (SafetensorsWriter). */
export interface TensorHeader {
  name: string;
  shape: number[];
  dtype: 'F32' | 'F64' | 'I32';
}

function dtypeOf(data: TensorToWrite['data']): TensorHeader['dtype'] {
  return data instanceof Float32Array ? 'F32' : data instanceof Float64Array ? 'F64' : 'I32';
}

/**
 * Streaming writer: the header (every tensor's name, dtype and shape) is written first, then each
 * tensor's bytes as they become available, in the declared order, so a file of several GB never
 * has to be in memory at once. The file appears atomically: written to `path.tmp`, renamed by
 * finish(); abort() removes the partial file.
 */
export class SafetensorsWriter {
  private fd: number | null;
  private next = 0;
  /** Values of tensors[next] written so far. */
  private written = 0;

  private constructor(readonly path: string, private readonly tensors: TensorHeader[], fd: number) {
    this.fd = fd;
  }

  /** Metadata values must be strings (the format says so). */
  static create(path: string, tensors: TensorHeader[], metadata: Record<string, string> = {}): SafetensorsWriter {
    const header: Record<string, unknown> = {};
    if (Object.keys(metadata).length) header.__metadata__ = metadata;
    let offset = 0;
    for (const t of tensors) {
      const bytes = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
      header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
    }
    let json = JSON.stringify(header);
    // Pad with spaces so the data starts 8-byte aligned, as the reference implementation does.
    const jsonBytes = Buffer.byteLength(json, 'utf8');
    json += ' '.repeat((8 - (jsonBytes % 8)) % 8);
    const hb = Buffer.from(json, 'utf8');
    const fd = openSync(`${path}.tmp`, 'w');
    const writer = new SafetensorsWriter(path, tensors, fd);
    try {
      const lenBuf = Buffer.alloc(8);
      lenBuf.writeBigUInt64LE(BigInt(hb.length));
      writeAll(fd, lenBuf);
      writeAll(fd, hb);
    } catch (e) {
      writer.abort();
      throw e;
    }
    return writer;
  }

  /**
   * Data of the current tensor, whole or in consecutive parts (a large tensor can be produced a
   * chunk at a time); its name is checked, so an out-of-order write cannot slip through.
   */
  write(name: string, data: TensorToWrite['data']): void {
    if (this.fd === null) throw new Error(`${this.path}: writer already closed`);
    const t = this.tensors[this.next];
    if (!t || t.name !== name) throw new Error(`SafetensorsWriter: expected tensor ${t ? `"${t.name}"` : '(none left)'}, got "${name}"`);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (this.written + data.length > numel || dtypeOf(data) !== t.dtype) {
      throw new Error(`SafetensorsWriter: ${name}: ${this.written} + ${data.length} ${dtypeOf(data)} values for ${t.dtype}${JSON.stringify(t.shape)}`);
    }
    writeAll(this.fd, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    this.written += data.length;
    if (this.written === numel) {
      this.next++;
      this.written = 0;
    }
  }

  /** Closes the file and moves it into place; every declared tensor must have been written. */
  finish(): void {
    // A zero-size tensor needs no write.
    while (this.next < this.tensors.length && this.written === 0 && this.tensors[this.next]!.shape.includes(0)) this.next++;
    if (this.next !== this.tensors.length) {
      this.abort();
      throw new Error(`SafetensorsWriter: ${this.tensors.length - this.next} declared tensors were not written`);
    }
    closeSync(this.fd!);
    this.fd = null;
    renameSync(`${this.path}.tmp`, this.path);
  }

  /** Closes and deletes the partial file. */
  abort(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    rmSync(`${this.path}.tmp`, { force: true });
  }
}

/** Writes tensors in the given order (SafetensorsWriter with everything at hand). */
export function writeSafetensors(path: string, tensors: TensorToWrite[], metadata: Record<string, string> = {}): void {
  for (const t of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new Error(`writeSafetensors: ${t.name} has ${t.data.length} values for shape ${JSON.stringify(t.shape)}`);
  }
  const w = SafetensorsWriter.create(path, tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: dtypeOf(t.data) })), metadata);
  try {
    for (const t of tensors) w.write(t.name, t.data);
  } catch (e) {
    w.abort();
    throw e;
  }
  w.finish();
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}
