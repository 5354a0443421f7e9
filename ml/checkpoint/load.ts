// Loads an HF BERT checkpoint folder: config.json plus model.safetensors or pytorch_model.bin.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StageInputError } from 'fisherflow';
import { resolveConfig, type BertConfig } from '../bert/config.js';
import { parameterShapes } from '../bert/params.js';
import { SafetensorsFile } from '../safetensors/format.js';
import { forEachTorchTensor, type LoadedTensor } from './torch-bin.js';

export interface Checkpoint {
  config: BertConfig;
  /** HF BertForSequenceClassification names → float32 data; missing head parameters are absent. */
  tensors: Map<string, LoadedTensor>;
  weightsFile: string;
  format: 'safetensors' | 'pytorch';
  /** Expected parameters the checkpoint lacked (e.g. the classifier of a pre-trained base model). */
  missing: string[];
}

export function readConfig(dir: string): BertConfig {
  if (!existsSync(dir)) throw new StageInputError(`${dir}: checkpoint folder does not exist`);
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new StageInputError(`${dir}: no config.json (expected a Hugging Face checkpoint folder)`);
  let raw: Record<string, unknown>;
  try { raw = JSON.parse(readFileSync(path, 'utf8')); } catch (e) {
    throw new StageInputError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return resolveConfig(raw as Partial<BertConfig>, path);
}

/** Maps names of BertModel / BertForPreTraining / old (gamma, beta) checkpoints to HF's current names. */
export function canonicalName(name: string): string | null {
  let n = name.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  if (n.startsWith('module.')) n = n.slice(7); // saved from DataParallel
  if (n.startsWith('embeddings.') || n.startsWith('encoder.') || n.startsWith('pooler.')) n = `bert.${n}`;
  if (n.endsWith('position_ids') || n.startsWith('cls.')) return null; // buffers and pre-training heads
  return n;
}

/**
 * Loads a checkpoint. With `onTensor`, tensors are handed over one at a time and not kept in
 * `tensors` (loading then holds about one tensor in JS memory: two worker threads loading
 * BERT-base at once would otherwise need four model-sized copies at their peak).
 */
export function loadCheckpoint(dir: string, onTensor?: (name: string, t: LoadedTensor) => void): Checkpoint {
  const config = readConfig(dir);
  const st = join(dir, 'model.safetensors');
  const bin = join(dir, 'pytorch_model.bin');
  const expected = parameterShapes(config);
  const tensors = new Map<string, LoadedTensor>();
  const seen = new Set<string>();
  let weightsFile: string;
  let format: Checkpoint['format'];
  const wanted = (name: string): boolean => {
    const n = canonicalName(name);
    return n !== null && expected.has(n);
  };
  const accept = (name: string, t: LoadedTensor): void => {
    const n = canonicalName(name)!;
    const want = expected.get(n)!;
    if (want.length !== t.shape.length || want.some((d, i) => d !== t.shape[i])) {
      throw new StageInputError(`${weightsFile}: tensor "${name}" has shape [${t.shape.join(', ')}] but config.json implies [${want.join(', ')}]`);
    }
    seen.add(n);
    if (onTensor) onTensor(n, t);
    else tensors.set(n, t);
  };
  if (existsSync(st)) {
    weightsFile = st;
    format = 'safetensors';
    const f = SafetensorsFile.open(st);
    try {
      for (const name of f.names()) {
        if (!wanted(name)) continue;
        const info = f.info(name);
        accept(name, { shape: info.shape, data: f.readFloat32(name), dtype: info.dtype });
      }
    } finally { f.close(); }
  } else if (existsSync(bin)) {
    weightsFile = bin;
    format = 'pytorch';
    forEachTorchTensor(bin, accept, wanted);
  } else {
    throw new StageInputError(`${dir}: no model.safetensors or pytorch_model.bin (sharded checkpoints are not supported)`);
  }
  const missing = [...expected.keys()].filter((n) => !seen.has(n));
  const missingBody = missing.filter((n) => !n.startsWith('classifier.') && !n.startsWith('bert.pooler.'));
  if (missingBody.length) {
    throw new StageInputError(`${weightsFile}: ${missingBody.length} BERT parameters missing, e.g. "${missingBody[0]}" (not a BERT checkpoint, or config.json does not match it)`);
  }
  return { config, tensors, weightsFile, format, missing };
}
