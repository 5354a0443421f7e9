// Reads a PyTorch state dict saved with torch.save (zip format, torch >= 1.6) without Python:
// the pickle names storages by key; each storage's bytes are the zip entry `<archive>/data/<key>`.
import { StageInputError } from 'fisherflow';
import { ZipReader } from './zip.js';
import { unpickle, type PickleGlobal } from './pickle.js';
import { toFloat32 } from '../safetensors/format.js';

export interface LoadedTensor { shape: number[]; data: Float32Array; dtype: string }

const STORAGE_DTYPES: Record<string, string> = {
  FloatStorage: 'F32', DoubleStorage: 'F64', HalfStorage: 'F16', BFloat16Storage: 'BF16',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};
const DTYPE_BYTES: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

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
 * Streams the state dict's tensors one at a time (with `want` deciding which to materialise), so
 * that loading holds about one tensor in JS memory rather than the whole model.
 */
export function forEachTorchTensor(path: string, onTensor: (name: string, t: LoadedTensor) => void, want: (name: string) => boolean = () => true): void {
  const zip = new ZipReader(path);
  try {
    const pklName = [...zip.entries.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
    if (!pklName) throw new StageInputError(`${path}: zip has no data.pkl; not a torch.save checkpoint`);
    const prefix = pklName.slice(0, pklName.length - 'data.pkl'.length);
    const root = unpickle(zip.readEntry(pklName), {
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
    const entries = [...root].filter(([name, v]) => (v as TensorRef)?.kind === 'tensor' && want(String(name))) as Array<[string, TensorRef]>;
    // A storage shared by several tensors (tied weights) is kept until its last user.
    const uses = new Map<string, number>();
    for (const [, t] of entries) uses.set(t.storage.key, (uses.get(t.storage.key) ?? 0) + 1);
    const storages = new Map<string, Float32Array>();
    for (const [name, t] of entries) {
      const key = t.storage.key;
      let data = storages.get(key);
      if (!data) {
        const bytes = zip.readEntry(`${prefix}data/${key}`);
        if (bytes.length % DTYPE_BYTES[t.storage.dtype] !== 0) throw new StageInputError(`${path}: storage ${key} has a size that does not fit its dtype`);
        data = toFloat32(bytes, t.storage.dtype);
        storages.set(key, data);
      }
      const left = uses.get(key)! - 1;
      uses.set(key, left);
      if (left === 0) storages.delete(key);
      onTensor(String(name), { shape: t.size.slice(), data: strided(data, t.offset, t.size, t.stride), dtype: t.storage.dtype });
    }
  } finally {
    zip.close();
  }
}

/** Copies a (possibly strided, e.g. transposed or shared) view of a storage into a contiguous array. */
function strided(src: Float32Array, offset: number, size: number[], stride: number[]): Float32Array {
  const numel = size.reduce((a, b) => a * b, 1);
  let contiguous = true;
  for (let i = size.length - 1, s = 1; i >= 0; i--) {
    if (size[i] !== 1 && stride[i] !== s) contiguous = false;
    s *= size[i];
  }
  if (contiguous) return src.slice(offset, offset + numel);
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
