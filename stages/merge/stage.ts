// The `merge` stage: N checkpoints with the same architecture → one checkpoint folder (the first
// model's config.json and tokenizer, model.safetensors, merge.json saying how it was made).
// Streams: every tensor is merged a chunk of elements at a time, read from each model (and
// Fisher, and base) and written straight to the output, so memory stays at a few chunks whatever
// the models' size.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage, StageInputError, type StageRunContext } from 'fisherflow';
import type { BertConfig } from '../../ml/bert/config.js';
import { readConfig } from '../../ml/checkpoint/load.js';
import { copyTokenizerFiles } from '../../ml/checkpoint/files.js';
import { openWeights, openWeightsFile, type WeightsFile } from '../../ml/checkpoint/weights.js';
import { portablePath } from '../../ml/provenance/index.js';
import { SafetensorsWriter } from '../../ml/safetensors/format.js';
import { checkConfig, checkTensors, checkVocabulary, type Coverage } from './compatibility.js';
import { checkMergeInputs, DEFAULT_FISHER_FLOOR, mergeInputSchema, resolveWeights, sourcesOf, type MergeInputs, type MergeMethod, type Source } from './inputs.js';
import { BadFisherValue, fisherWeighted, taskArithmetic, weightedSum } from './methods.js';

/** Elements per chunk: 4 Mi float32 = 16 MiB per model read, 32 MiB per float64 sum. */
export const CHUNK_ELEMENTS = 1 << 22;

export const MERGE_FORMAT_VERSION = '1';

/** merge.json, beside the merged weights. */
export interface MergeRecord {
  fisherflow: 'merge';
  format_version: string;
  method: MergeMethod;
  /** One per model, in order: the coefficients actually used. */
  weights: number[];
  models: Array<{ name: string; path: string }>;
  fishers?: Array<{ name: string; path: string }>;
  fisher_floor?: number;
  normalize_fishers?: boolean;
  base?: { path: string; lacks: string[]; fewer_rows: Record<string, number> };
  scaling?: number;
  tensors: number;
  parameters: number;
}

interface Opened { src: Source; config: BertConfig; weights: WeightsFile }

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Opens each checkpoint (config and weights) and checks it against the first. */
function openModels(models: Source[]): Opened[] {
  const opened: Opened[] = [];
  try {
    for (const src of models) {
      const config = readConfig(src.path);
      const weights = openWeights(src.path);
      opened.push({ src, config, weights });
      const first = opened[0]!;
      if (opened.length > 1) {
        // Tensors first: a different vocabulary or size shows as the tensor and both shapes.
        checkTensors(first.src, first.weights, src, weights);
        checkConfig(first.src, first.config, src, config);
        checkVocabulary(first.src, src);
      }
    }
    return opened;
  } catch (e) {
    for (const o of opened) o.weights.close();
    throw e;
  }
}

function sumOfSquares(f: WeightsFile, signal: AbortSignal): number {
  let s = 0;
  for (const name of f.names()) {
    const n = numel(f.shape(name));
    for (let start = 0; start < n; start += CHUNK_ELEMENTS) {
      signal.throwIfAborted();
      const x = f.readRange(name, start, Math.min(CHUNK_ELEMENTS, n - start));
      for (let j = 0; j < x.length; j++) s += x[j]! * x[j]!;
    }
  }
  return s;
}

const stage = defineStage<MergeInputs>({
  stageApiVersion: 1,
  type: 'merge',
  description: 'Merge N checkpoints with the same architecture into one (average / interpolation, Fisher-weighted, task arithmetic), streaming tensor by tensor: config, model.safetensors, tokenizer of the first, merge.json.',
  inputSchema: mergeInputSchema,
  outputs: () => ({
    model: { path: 'model', kind: 'dir', description: 'HF checkpoint: config.json and tokenizer files of the first model, model.safetensors, merge.json (method, weights, sources)' },
  }),
  resources: { cpu: 1 },
  worker: true,
  check: checkMergeInputs,
  run: (ctx) => runMerge(ctx),
});

/** The stage's run, with the chunk size as a parameter (tests use tiny chunks to cross tensor boundaries). */
export async function runMerge(ctx: StageRunContext<MergeInputs>, chunkElements = CHUNK_ELEMENTS): Promise<void> {
  const inputs = ctx.inputs;
  const problems = checkMergeInputs(inputs);
  if (problems.length) throw new StageInputError(problems.join('; '));
  const method = inputs.method ?? 'average';
  const modelSources = sourcesOf(inputs.models, 'models');
  let weights = resolveWeights(inputs, modelSources);
  const floor = inputs.fisher_floor ?? DEFAULT_FISHER_FLOOR;
  const scaling = inputs.scaling ?? 1;

  const models = openModels(modelSources);
  const toClose: WeightsFile[] = models.map((m) => m.weights);
  const first = models[0]!;
  try {
    const fishers: Array<{ src: Source; weights: WeightsFile }> = [];
    if (method === 'fisher') {
      const fisherSources = sourcesOf(inputs.fishers!, 'fishers');
      // In the models' order, whichever way they were given.
      const ordered = Array.isArray(inputs.fishers) ? fisherSources : modelSources.map((m) => fisherSources.find((f) => f.name === m.name)!);
      for (const src of ordered) {
        const w = openWeightsFile(src.path, 'safetensors');
        toClose.push(w);
        checkTensors(first.src, first.weights, src, w);
        fishers.push({ src, weights: w });
      }
      if (inputs.normalize_fishers) {
        const norms = fishers.map((f) => Math.sqrt(sumOfSquares(f.weights, ctx.signal)));
        norms.forEach((n, i) => {
          if (!(n > 0)) throw new StageInputError(`with.${fishers[i]!.src.label}: the Fisher is zero everywhere; it cannot be normalised`);
        });
        weights = weights.map((w, i) => w / norms[i]!);
        ctx.log(`fisher: normalised by the Fishers' L2 norms ${norms.map((n) => n.toPrecision(6)).join(', ')}`);
      }
    }
    let base: { src: Source; weights: WeightsFile; coverage: Coverage } | null = null;
    if (method === 'task_arithmetic') {
      const src: Source = { label: 'base', name: 'base', path: inputs.base! };
      const config = readConfig(src.path);
      const w = openWeights(src.path);
      toClose.push(w);
      const coverage = checkTensors(first.src, first.weights, src, w, { partial: true });
      checkConfig(first.src, first.config, src, config, { vocabMayGrow: true });
      checkVocabulary(first.src, src, { mayBePrefix: true });
      if (coverage.missing.length) ctx.log(`task_arithmetic: the base lacks ${coverage.missing.join(', ')}: the models' weighted average is used there`);
      for (const [n, rows] of coverage.fewerRows) ctx.log(`task_arithmetic: the base has ${rows} rows of ${n}; the rows after them (added tokens) take the models' weighted average`);
      if ((coverage.missing.length || coverage.fewerRows.size) && weights.reduce((a, b) => a + b, 0) === 0) {
        throw new StageInputError('with.weights: sum to 0, so the tensors the base lacks cannot take the models\' weighted average');
      }
      base = { src, weights: w, coverage };
    }
    const weightSum = weights.reduce((a, b) => a + b, 0);
    if (method === 'average' && Math.abs(weightSum - 1) > 1e-9) ctx.log(`average: the weights sum to ${weightSum}, not 1 (applied as given)`);

    const outDir = join(ctx.outDir, 'model');
    mkdirSync(outDir, { recursive: true });
    const names = first.weights.names();
    const shapes = names.map((n) => first.weights.shape(n));
    const total = shapes.reduce((a, s) => a + numel(s), 0);
    ctx.log(`${method}: ${models.length} models (${modelSources.map((m) => m.label).join(', ')}), weights [${weights.map((w) => w.toPrecision(6)).join(', ')}], ${names.length} tensors, ${total} parameters`);
    const writer = SafetensorsWriter.create(join(outDir, 'model.safetensors'), names.map((name, i) => ({ name, shape: shapes[i]!, dtype: 'F32' })), {
      // transformers refuses safetensors files whose metadata lacks format "pt".
      format: 'pt', fisherflow: 'merge', method,
    });
    let done = 0;
    try {
      for (const [t, name] of names.entries()) {
        const n = numel(shapes[t]!);
        const baseRows = base?.coverage.fewerRows.get(name);
        const baseElements = !base || base.coverage.missing.includes(name) ? 0 : baseRows !== undefined ? baseRows * (n / shapes[t]![0]!) : n;
        for (let start = 0; start < n; start += chunkElements) {
          // Let an abort message arrive between chunks.
          await new Promise((resolve) => setImmediate(resolve));
          ctx.signal.throwIfAborted();
          const count = Math.min(chunkElements, n - start);
          const xs = models.map((m) => m.weights.readRange(name, start, count));
          let out: Float32Array;
          if (method === 'average') out = weightedSum(xs, weights);
          else if (method === 'fisher') {
            try {
              out = fisherWeighted(xs, fishers.map((f) => f.weights.readRange(name, start, count)), weights, floor);
            } catch (e) {
              if (!(e instanceof BadFisherValue)) throw e;
              throw new StageInputError(`with.${fishers[e.model]!.src.label}: tensor "${name}" has Fisher value ${e.value} at element ${start + e.index}; a Fisher diagonal is a mean of squares (≥ 0)`);
            }
          } else {
            // task_arithmetic where the base has the elements; the weighted average elsewhere.
            const covered = Math.max(0, Math.min(count, baseElements - start));
            out = new Float32Array(count);
            if (covered > 0) out.set(taskArithmetic(xs.map((x) => x.subarray(0, covered)), base!.weights.readRange(name, start, covered), weights, scaling), 0);
            if (covered < count) out.set(weightedSum(xs.map((x) => x.subarray(covered)), weights.map((w) => w / weightSum)), covered);
          }
          writer.write(name, out);
          done += count;
          ctx.progress(done, total, 'parameters');
        }
      }
      writer.finish();
    } catch (e) {
      writer.abort();
      throw e;
    }

    copyFileSync(join(first.src.path, 'config.json'), join(outDir, 'config.json'));
    const tokenizer = copyTokenizerFiles(first.src.path, outDir);
    const named = (s: Source) => ({ name: s.name, path: portablePath(s.path) });
    const record: MergeRecord = {
      fisherflow: 'merge', format_version: MERGE_FORMAT_VERSION, method, weights,
      models: modelSources.map(named),
      ...(method === 'fisher' ? { fishers: fishers.map((f) => named(f.src)), fisher_floor: floor, normalize_fishers: inputs.normalize_fishers ?? false } : {}),
      ...(base ? { base: { path: portablePath(base.src.path), lacks: base.coverage.missing, fewer_rows: Object.fromEntries(base.coverage.fewerRows) }, scaling } : {}),
      tensors: names.length, parameters: total,
    };
    writeFileSync(join(outDir, 'merge.json'), JSON.stringify(record, null, 2) + '\n');
    ctx.log(`wrote ${outDir}: model.safetensors, config.json${tokenizer.length ? `, ${tokenizer.join(', ')}` : ''}, merge.json`);
  } finally {
    for (const w of toClose) w.close();
  }
}

export default stage;
