// Loads an HF BERT checkpoint folder: config.json plus model.safetensors or pytorch_model.bin.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StageInputError } from 'fisherflow';
import { resolveConfig, type BertConfig } from '../bert/config.js';
import { parameterShapes } from '../bert/params.js';
import type { LoadedTensor } from './torch-bin.js';
import { openWeights } from './weights.js';

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

/**
 * Loads a checkpoint. With `onTensor`, tensors are handed over one at a time and not kept in
 * `tensors` (loading then holds about one tensor in JS memory: two worker threads loading
 * BERT-base at once would otherwise need four model-sized copies at their peak).
 */
export function loadCheckpoint(dir: string, onTensor?: (name: string, t: LoadedTensor) => void): Checkpoint {
  const config = readConfig(dir);
  const expected = parameterShapes(config);
  const tensors = new Map<string, LoadedTensor>();
  const seen = new Set<string>();
  const weights = openWeights(dir);
  try {
    for (const n of weights.names()) {
      const want = expected.get(n);
      if (!want) continue;
      const shape = weights.shape(n);
      if (want.length !== shape.length || want.some((d, i) => d !== shape[i])) {
        throw new StageInputError(`${weights.file}: tensor "${n}" has shape [${shape.join(', ')}] but config.json implies [${want.join(', ')}]`);
      }
      const t = weights.read(n);
      seen.add(n);
      if (onTensor) onTensor(n, t);
      else tensors.set(n, t);
    }
  } finally { weights.close(); }
  const missing = [...expected.keys()].filter((n) => !seen.has(n));
  const missingBody = missing.filter((n) => !n.startsWith('classifier.') && !n.startsWith('bert.pooler.'));
  if (missingBody.length) {
    throw new StageInputError(`${weights.file}: ${missingBody.length} BERT parameters missing, e.g. "${missingBody[0]}" (not a BERT checkpoint, or config.json does not match it)`);
  }
  return { config, tensors, weightsFile: weights.file, format: weights.format, missing };
}
