// The `evaluate` stage: a model (checkpoint folder) on named tokenized sets → metrics.json
// (accuracy, mean loss, per-class accuracy, confusion matrix, examples per set) and, optionally,
// every example's logits and prediction (predictions.jsonl).
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { defineStage, HUB_KEYWORD, PATH_KEYWORD, StageInputError } from 'fisherflow';
import { BACKEND_NAMES, type BackendName } from '../../ml/bert/backend-names.js';
import { readTokenizedJsonl, type TokenizedRow } from '../../ml/bert/batch.js';
import { backendMetadata } from '../../ml/bert/backend-info.js';
import { checkRows } from '../../ml/bert/check-rows.js';
import type { EvalResult } from '../../ml/bert/evaluate.js';
import { readConfig } from '../../ml/checkpoint/load.js';
import { requireClassifierHead } from '../../ml/checkpoint/head.js';
import { portablePath } from '../../ml/provenance/index.js';

export interface EvaluateInputs {
  model: string;
  /** Set name → tokenized data.jsonl; a single path is the set `data`. */
  data: string | Record<string, string>;
  batch_size?: number;
  padding?: 'dynamic' | 'max_length';
  max_length?: number;
  max_examples?: number;
  predictions?: boolean;
  backend?: BackendName;
}

/** One set's entry in metrics.json. */
export interface SetMetrics {
  accuracy: number;
  loss: number;
  examples: number;
  /** Class id → share of that class's examples predicted as it (null: no examples of it). */
  per_class: Record<string, number | null>;
  /** confusion[label][predicted]. */
  confusion: number[][];
}

export interface EvaluateMetrics {
  sets: Record<string, SetMetrics>;
  /** Class id → name (config.json's id2label). */
  labels: Record<string, string>;
  model: { path: string; merge?: unknown };
  /** What it ran on (ml/bert/backend-info): backend, device, and adapter or BLAS. */
  backend: string;
  device: string;
  adapter?: string;
  blas?: string;
  timing: { seconds: number; examples_per_second: number };
}

const path = { type: 'string', minLength: 1, [PATH_KEYWORD]: true };
const SET_NAME = /^[A-Za-z0-9_.,@+-]+$/;

export function setsOf(data: EvaluateInputs['data']): Array<[string, string]> {
  return typeof data === 'string' ? [['data', data]] : Object.entries(data);
}

function setMetrics(r: EvalResult): SetMetrics {
  return {
    accuracy: r.accuracy,
    loss: r.loss,
    examples: r.examples,
    per_class: Object.fromEntries(r.perClass.map((a, i) => [String(i), a])),
    confusion: r.confusion,
  };
}

/** The merge stage's record (merge.json) when the model is a merged checkpoint. */
function mergeRecord(dir: string): unknown {
  const f = join(dir, 'merge.json');
  if (!existsSync(f)) return undefined;
  try { return JSON.parse(readFileSync(f, 'utf8')); } catch { return undefined; }
}

const stage = defineStage<EvaluateInputs>({
  stageApiVersion: 1,
  type: 'evaluate',
  description: 'Evaluate a BERT classifier on named tokenized sets: accuracy, mean loss, per-class accuracy and confusion matrix per set (metrics.json); optionally every example\'s logits (predictions.jsonl).',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['model', 'data'],
    properties: {
      model: { ...path, [HUB_KEYWORD]: 'model', description: 'Checkpoint folder (config.json + model.safetensors or pytorch_model.bin) with a classification head, or a Hugging Face id in the local cache.' },
      data: {
        description: 'Set name → tokenized data.jsonl (the tokenize stage\'s output; rows need labels), or one path (the set "data").',
        oneOf: [path, { type: 'object', minProperties: 1, additionalProperties: path }],
      },
      batch_size: { type: 'integer', minimum: 1, default: 32 },
      padding: { enum: ['dynamic', 'max_length'], default: 'dynamic', description: 'dynamic: pad each batch to its longest row; max_length: pad every batch to max_length (the metrics do not change, only the speed).' },
      max_length: { type: 'integer', minimum: 1, default: 128, description: 'Length for padding: max_length; longer rows are an error then.' },
      max_examples: { type: 'integer', minimum: 1, description: 'Use only the first N rows of each set.' },
      predictions: { type: 'boolean', default: false, description: 'Also write predictions.jsonl: per row its set, index, label, prediction, loss and logits.' },
      backend: { enum: BACKEND_NAMES, default: 'auto' },
    },
  },
  outputs: (inputs) => ({
    metrics: { path: 'metrics.json', kind: 'file', metrics: true, description: 'Per set: accuracy, loss, examples, per_class, confusion; labels, model, backend, timing' },
    ...(inputs.predictions ? { predictions: { path: 'predictions.jsonl', kind: 'file' as const, description: 'One row per example: set, index, label, predicted, loss, logits' } } : {}),
  }),
  // As train: two cores for the native BLAS's matrix products; a GPU when one is free.
  resources: { gpu: 'optional', cpu: 2 },
  worker: true,
  check(inputs) {
    const problems: string[] = [];
    if (typeof inputs.data === 'object') {
      for (const name of Object.keys(inputs.data)) {
        if (!SET_NAME.test(name)) problems.push(`with.data.${name}: set names may use letters, digits and _ . , @ + - only`);
      }
    }
    return problems;
  },
  async run(ctx) {
    const inputs = ctx.inputs;
    const cfg = readConfig(inputs.model);
    // Before TensorFlow.js loads: a pre-trained checkpoint's accuracy would be a random head's.
    requireClassifierHead(inputs.model, 'with.model', 'evaluate');
    const padTo = (inputs.padding ?? 'dynamic') === 'max_length' ? inputs.max_length ?? 128 : undefined;
    if (padTo !== undefined && padTo > cfg.max_position_embeddings) {
      throw new StageInputError(`with.max_length: ${padTo} is more than the model's max_position_embeddings ${cfg.max_position_embeddings}`);
    }
    const limits = { vocabSize: cfg.vocab_size, numLabels: cfg.num_labels, maxPositions: cfg.max_position_embeddings, typeVocabSize: cfg.type_vocab_size, padTo };
    const sets: Array<{ name: string; file: string; rows: TokenizedRow[] }> = [];
    for (const [name, file] of setsOf(inputs.data)) {
      let rows = await readTokenizedJsonl(file);
      if (inputs.max_examples !== undefined) rows = rows.slice(0, inputs.max_examples);
      checkRows(typeof inputs.data === 'string' ? 'data' : `data.${name}`, file, rows, limits);
      sets.push({ name, file, rows });
    }

    // TensorFlow.js loads here, not when the engine imports this module to plan.
    const { initBackend } = await import('../../ml/bert/backend.js');
    const { BertForSequenceClassification } = await import('../../ml/bert/model.js');
    const { evaluate } = await import('../../ml/bert/evaluate.js');
    const backend = await initBackend(inputs.backend ?? 'auto', { gpu: ctx.device.gpus.length > 0 });
    ctx.log(`backend ${backend.backend}: ${backend.device}${ctx.device.gpus.length ? ` (assigned GPU ${ctx.device.gpus.join(',')})` : ''}`);
    if (backend.note) ctx.log(backend.note);
    const model = await BertForSequenceClassification.fromPretrained(inputs.model);
    const predictions = inputs.predictions ? createWriteStream(join(ctx.outDir, 'predictions.jsonl')) : null;
    try {
      const total = sets.reduce((n, s) => n + s.rows.length, 0);
      const merge = mergeRecord(inputs.model);
      const metrics: EvaluateMetrics = {
        sets: {},
        labels: Object.fromEntries(Array.from({ length: cfg.num_labels }, (_, i) => [String(i), cfg.id2label?.[String(i)] ?? `LABEL_${i}`])),
        model: { path: portablePath(inputs.model), ...(merge !== undefined ? { merge } : {}) },
        ...(backendMetadata(backend) as { backend: string; device: string }),
        timing: { seconds: 0, examples_per_second: 0 },
      };
      const t0 = performance.now();
      let before = 0;
      for (const set of sets) {
        const s0 = performance.now();
        const r = await evaluate(model, set.rows, {
          batchSize: inputs.batch_size ?? 32, padTo, padId: cfg.pad_token_id, signal: ctx.signal, keepRows: predictions !== null,
          onProgress: (done) => ctx.progress(before + done, total, `examples (${set.name})`),
        });
        before += set.rows.length;
        metrics.sets[set.name] = setMetrics(r);
        const secs = (performance.now() - s0) / 1000;
        ctx.log(`${set.name}: accuracy ${(r.accuracy * 100).toFixed(2)}%, loss ${r.loss.toFixed(4)} on ${r.examples} examples (${(r.examples / secs).toFixed(1)} examples/s)`);
        if (predictions && r.rows) {
          const { logits, predicted, loss, classes } = r.rows;
          for (let i = 0; i < set.rows.length; i++) {
            const row = set.rows[i];
            const line = JSON.stringify({
              set: set.name, index: i, label: row.labels ?? row.label, predicted: predicted[i], loss: loss[i],
              logits: Array.from(logits.subarray(i * classes, (i + 1) * classes)),
            });
            if (!predictions.write(line + '\n')) await once(predictions, 'drain');
          }
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      metrics.timing = { seconds, examples_per_second: seconds > 0 ? total / seconds : 0 };
      writeFileSync(join(ctx.outDir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
    } finally {
      model.dispose();
      if (predictions) {
        predictions.end();
        await once(predictions, 'close');
      }
    }
  },
});

export default stage;
