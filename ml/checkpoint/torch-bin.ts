// Reads a PyTorch state dict saved with torch.save without Python, in either format (see
// torch-archive.ts): the pickle names storages by key; each storage's bytes are the archive entry
// `<archive>/data/<key>`.
import { StageInputError } from 'fisherflow';
import { openTorchArchive, type TorchArchive } from './torch-archive.js';
import { DTYPE_BYTES, STORAGE_DTYPES } from './torch-storage.js';
import { unpickle, type PickleGlobal } from './pickle.js';
import { toFloat32 } from '../safetensors/format.js';

export interface LoadedTensor { shape: number[]; data: Float32Array; dtype: string }

interface StorageRef { kind: 'storage'; key: string; dtype: string }
interface TensorRef { kind: 'tensor'; storage: StorageRef; offset: number; size: number[]; stride: number[] }

function isGlobal(x: unknown, module: string, name: string): boolean {
  const g = x as PickleGlobal;
  return !!g && g.kind === 'global' && g.module === module && g.name === name;
}

/** All tensors of the state dict, as float32, in the file's order. */
export function readTorchStateDict(path: string): Map<string, LoadedTensor> {
  const out = new Map<string, LoadedTensor>();
  forEachTorchTensor(path, (name, t) => out.set(name, t));
  return out;
}

/**
 * Random access to a state dict's tensors: the pickle (names, shapes, storage keys) is read when
 * the file is opened, each tensor's bytes only when asked for, so several checkpoints can be
 * walked tensor by tensor side by side (the merge stage) holding one tensor of each.
 */
export class TorchStateDictFile {
  private constructor(readonly path: string, private readonly archive: TorchArchive, private readonly prefix: string, private readonly refs: Map<string, TensorRef>) {}

  static open(path: string): TorchStateDictFile {
    const archive = openTorchArchive(path);
    try {
      const pklName = [...archive.entries.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
      if (!pklName) throw new StageInputError(`${path}: no data.pkl in the archive; not a torch.save checkpoint`);
      const prefix = pklName.slice(0, pklName.length - 'data.pkl'.length);
      const root = unpickle(archive.readEntry(pklName), {
        persistentLoad(pid) {
          const t = pid as unknown[];
          if (!Array.isArray(t) || t[0] !== 'storage') throw new StageInputError(`${path}: unsupported persistent id ${JSON.stringify(pid)}`);
          const g = t[1] as PickleGlobal;
          // torch >= 2 may pickle torch.storage.UntypedStorage with a dtype elsewhere; state dicts of
          // float models use the typed storage names.
          const dtype = STORAGE_DTYPES[g?.name];
          if (!dtype) throw new StageInputError(`${path}: unsupported storage type ${g?.module}.${g?.name}`);
          return { kind: 'storage', key: String(t[2]), dtype } satisfies StorageRef;
        },
        reduce(fn, args) {
          if (isGlobal(fn, 'torch._utils', '_rebuild_tensor_v2') || isGlobal(fn, 'torch._utils', '_rebuild_tensor')) {
            const [storage, offset, size, stride] = args as [StorageRef, number, number[], number[]];
            return { kind: 'tensor', storage, offset, size, stride } satisfies TensorRef;
          }
          if (isGlobal(fn, 'torch._utils', '_rebuild_parameter') || isGlobal(fn, 'torch._utils', '_rebuild_parameter_with_state')) return args[0];
          if (isGlobal(fn, 'collections', 'OrderedDict')) return new Map();
          if (isGlobal(fn, 'torch', 'Size')) return args[0];
          return { kind: 'object', fn, args };
        },
      }, path);
      if (!(root instanceof Map)) throw new StageInputError(`${path}: the pickle does not hold a state dict (a mapping of names to tensors)`);
      const refs = new Map<string, TensorRef>();
      for (const [name, v] of root) if ((v as TensorRef)?.kind === 'tensor') refs.set(String(name), v as TensorRef);
      return new TorchStateDictFile(path, archive, prefix, refs);
    } catch (e) {
      archive.close();
      throw e;
    }
  }

  /** Tensor names in the file's order. */
  names(): string[] { return [...this.refs.keys()]; }

  info(name: string): { shape: number[]; dtype: string } {
    const t = this.ref(name);
    return { shape: t.size.slice(), dtype: t.storage.dtype };
  }

  /** A storage's values as float32 (shared by tensors that view the same storage). */
  storageFloat32(key: string, dtype: string): Float32Array {
    const bytes = this.archive.readEntry(`${this.prefix}data/${key}`);
    if (bytes.length % DTYPE_BYTES[dtype] !== 0) throw new StageInputError(`${this.path}: storage ${key} has a size that does not fit its dtype`);
    return toFloat32(bytes, dtype);
  }

  /** One tensor as contiguous float32 (reads its storage). */
  readFloat32(name: string, storage?: Float32Array): LoadedTensor {
    const t = this.ref(name);
    const data = storage ?? this.storageFloat32(t.storage.key, t.storage.dtype);
    return { shape: t.size.slice(), data: strided(data, t.offset, t.size, t.stride), dtype: t.storage.dtype };
  }

  /** Elements [start, start + count) of a tensor (in row-major order) as float32. */
  readFloat32Range(name: string, start: number, count: number): Float32Array {
    const t = this.ref(name);
    const bytes = DTYPE_BYTES[t.storage.dtype];
    if (isContiguous(t.size, t.stride)) {
      return toFloat32(this.archive.readEntryRange(`${this.prefix}data/${t.storage.key}`, (t.offset + start) * bytes, count * bytes), t.storage.dtype);
    }
    return this.readFloat32(name).data.slice(start, start + count);
  }

  storageKey(name: string): string { return this.ref(name).storage.key; }

  close(): void { this.archive.close(); }

  private ref(name: string): TensorRef {
    const t = this.refs.get(name);
    if (!t) throw new StageInputError(`${this.path}: no tensor named "${name}"`);
    return t;
  }
}

/**
 * Streams the state dict's tensors one at a time (with `want` deciding which to materialise), so
 * that loading holds about one tensor in JS memory rather than the whole model.
 */
export function forEachTorchTensor(path: string, onTensor: (name: string, t: LoadedTensor) => void, want: (name: string) => boolean = () => true): void {
  const file = TorchStateDictFile.open(path);
  try {
    const names = file.names().filter(want);
    // A storage shared by several tensors (tied weights) is kept until its last user.
    const uses = new Map<string, number>();
    for (const n of names) uses.set(file.storageKey(n), (uses.get(file.storageKey(n)) ?? 0) + 1);
    const storages = new Map<string, Float32Array>();
    for (const name of names) {
      const key = file.storageKey(name);
      let data = storages.get(key);
      if (!data) {
        data = file.storageFloat32(key, file.info(name).dtype);
        storages.set(key, data);
      }
      const left = uses.get(key)! - 1;
      uses.set(key, left);
      if (left === 0) storages.delete(key);
      onTensor(name, file.readFloat32(name, data));
    }
  } finally {
    file.close();
  }
}

function isContiguous(size: number[], stride: number[]): boolean {
  for (let i = size.length - 1, s = 1; i >= 0; i--) {
    if (size[i] !== 1 && stride[i] !== s) return false;
    s *= size[i];
  }
  return true;
}

/** Copies a (possibly strided, e.g. transposed or shared) view of a storage into a contiguous array. */
function strided(src: Float32Array, offset: number, size: number[], stride: number[]): Float32Array {
  const numel = size.reduce((a, b) => a * b, 1);
  if (isContiguous(size, stride)) return src.slice(offset, offset + numel);
  const out = new Float32Array(numel);
  const idx = new Array(size.length).fill(0);
  for (let k = 0; k < numel; k++) {
    let o = offset;
    for (let d = 0; d < size.length; d++) o += idx[d] * stride[d];
    out[k] = src[o];
    for (let d = size.length - 1; d >= 0; d--) { if (++idx[d] < size[d]) break; idx[d] = 0; }
  }
  return out;
}
