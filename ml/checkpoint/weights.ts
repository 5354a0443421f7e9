// Random access to a checkpoint folder's weights under HF BertForSequenceClassification names,
// whichever file holds them (model.safetensors or pytorch_model.bin): the header is read when
// the folder is opened, each tensor only when asked for. Loading a model walks it once; the
// merge stage walks several side by side, one tensor at a time.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { StageInputError } from 'fisherflow';
import { SafetensorsFile } from '../safetensors/format.js';
import { TorchStateDictFile, type LoadedTensor } from './torch-bin.js';

export interface WeightsFile {
  /** The weights file read. */
  readonly file: string;
  readonly format: 'safetensors' | 'pytorch';
  /** Canonical names (see canonicalName), in the file's order; buffers and pre-training heads left out. */
  names(): string[];
  has(name: string): boolean;
  shape(name: string): number[];
  /** One tensor as float32 (other float and integer dtypes converted). */
  read(name: string): LoadedTensor;
  /** Elements [start, start + count) of a tensor, row-major, as float32: large tensors a part at a time. */
  readRange(name: string, start: number, count: number): Float32Array;
  close(): void;
}

/** Maps names of BertModel / BertForPreTraining / old (gamma, beta) checkpoints to HF's current names. */
export function canonicalName(name: string): string | null {
  let n = name.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  if (n.startsWith('module.')) n = n.slice(7); // saved from DataParallel
  if (n.startsWith('embeddings.') || n.startsWith('encoder.') || n.startsWith('pooler.')) n = `bert.${n}`;
  if (n.endsWith('position_ids') || n.startsWith('cls.')) return null; // buffers and pre-training heads
  return n;
}

/** The weights file of a checkpoint folder: model.safetensors if present, else pytorch_model.bin. */
export function weightsPath(dir: string): { path: string; format: WeightsFile['format'] } {
  const st = join(dir, 'model.safetensors');
  if (existsSync(st)) return { path: st, format: 'safetensors' };
  const bin = join(dir, 'pytorch_model.bin');
  if (existsSync(bin)) return { path: bin, format: 'pytorch' };
  throw new StageInputError(`${dir}: no model.safetensors or pytorch_model.bin (sharded checkpoints are not supported)`);
}

export function openWeights(dir: string): WeightsFile {
  const { path, format } = weightsPath(dir);
  return openWeightsFile(path, format);
}

/** One weights file (a checkpoint's, or a tensor file under the same names, such as fim.safetensors). */
export function openWeightsFile(path: string, format: WeightsFile['format']): WeightsFile {
  if (format === 'safetensors') {
    const f = SafetensorsFile.open(path);
    return withCanonicalNames(path, format, f.names(), {
      shape: (n) => f.info(n).shape.slice(),
      read: (n) => ({ shape: f.info(n).shape.slice(), data: f.readFloat32(n), dtype: f.info(n).dtype }),
      readRange: (n, start, count) => f.readFloat32Range(n, start, count),
      close: () => f.close(),
    });
  }
  const f = TorchStateDictFile.open(path);
  return withCanonicalNames(path, format, f.names(), {
    shape: (n) => f.info(n).shape,
    read: (n) => f.readFloat32(n),
    readRange: (n, start, count) => f.readFloat32Range(n, start, count),
    close: () => f.close(),
  });
}

function withCanonicalNames(
  file: string,
  format: WeightsFile['format'],
  fileNames: string[],
  raw: Pick<WeightsFile, 'shape' | 'read' | 'readRange' | 'close'>,
): WeightsFile {
  const byCanonical = new Map<string, string>();
  for (const n of fileNames) {
    const c = canonicalName(n);
    if (c === null) continue;
    const other = byCanonical.get(c);
    if (other !== undefined) {
      raw.close();
      throw new StageInputError(`${file}: tensors "${other}" and "${n}" are both "${c}"`);
    }
    byCanonical.set(c, n);
  }
  const fileName = (n: string): string => {
    const f = byCanonical.get(n);
    if (f === undefined) throw new StageInputError(`${file}: no tensor "${n}"`);
    return f;
  };
  return {
    file,
    format,
    names: () => [...byCanonical.keys()],
    has: (n) => byCanonical.has(n),
    shape: (n) => raw.shape(fileName(n)),
    read: (n) => raw.read(fileName(n)),
    readRange: (n, start, count) => raw.readRange(fileName(n), start, count),
    close: () => raw.close(),
  };
}
