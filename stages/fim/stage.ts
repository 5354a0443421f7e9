// fim: diagonal Fisher information of a BERT classifier over a tokenized data set.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage, PATH_KEYWORD, HUB_KEYWORD, StageInputError } from 'fisherflow';
import { BACKEND_NAMES, type BackendName } from '../../ml/bert/backend-names.js';
import { backendMetadata } from '../../ml/bert/backend-info.js';
import { readTokenizedJsonl } from '../../ml/bert/batch.js';
import { writeSafetensors } from '../../ml/safetensors/format.js';
import { FISHER_TYPES, type FisherType } from './fisher-types.js';
import { parameterShapes } from '../../ml/bert/params.js';
import { readConfig } from '../../ml/checkpoint/load.js';
import { portablePath, sha256File } from '../../ml/provenance/index.js';
import { requireClassifierHead } from '../../ml/checkpoint/head.js';

export interface FimInputs {
  model: string;
  data: string;
  fisher?: FisherType;
  samples?: number;
  seed?: number;
  batch_size?: number;
  max_examples?: number;
  backend?: BackendName;
  chunks?: number;
  workers?: number;
  threads?: number;
}

export const FIM_FORMAT_VERSION = '1';

/** Hash of what defines the model: config.json and the weights file the loader reads. */
async function modelHash(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of ['config.json', existsSync(join(dir, 'model.safetensors')) ? 'model.safetensors' : 'pytorch_model.bin']) {
    if (existsSync(join(dir, f))) h.update(`${f}:${await sha256File(join(dir, f))}\n`);
  }
  return h.digest('hex');
}

const stage = defineStage<FimInputs>({
  stageApiVersion: 1,
  type: 'fim',
  description: 'Diagonal Fisher information (empirical, true or expected) of a BERT classifier over tokenized data → fim.safetensors',
  inputSchema: {
    type: 'object',
    required: ['model', 'data'],
    additionalProperties: false,
    properties: {
      model: { type: 'string', [PATH_KEYWORD]: true, [HUB_KEYWORD]: 'model', description: 'HF checkpoint folder: config.json + model.safetensors or pytorch_model.bin (a fine-tuned classifier), or a Hugging Face id in the local cache' },
      data: { type: 'string', [PATH_KEYWORD]: true, description: "the tokenize stage's data.jsonl" },
      fisher: { enum: FISHER_TYPES, default: 'empirical', description: 'empirical: true labels (the seed); true: labels sampled from the model; expected: exact sum over classes' },
      samples: { type: 'integer', minimum: 1, default: 1, description: 'labels sampled per example for fisher: true' },
      seed: { type: 'integer', default: 0 },
      batch_size: { type: 'integer', minimum: 1, default: 4, description: 'examples per pass; squares stay per example, so it changes speed and memory, not the result' },
      max_examples: { type: 'integer', minimum: 1, description: 'use only the first N rows of data' },
      backend: { enum: BACKEND_NAMES, default: 'auto' },
      chunks: { type: 'integer', minimum: 2, description: 'also write the Fisher of K disjoint chunks of the examples (for the overlap stage bootstrap)' },
      workers: { type: 'integer', minimum: 0, description: 'worker threads, each with its own copy of the model (default: 0 with a native BLAS or a GPU; 2 on wasm alone on a multi-core CPU; always 0 on webgpu)' },
      threads: { type: 'integer', minimum: 1, description: "native BLAS threads (default: the stage's CPU slots, resources.cpu)" },
    },
  },
  outputs(inputs) {
    const out: Record<string, { path: string; kind: 'file' | 'dir'; description?: string }> = {
      fim: { path: 'fim.safetensors', kind: 'file', description: 'float32 Fisher diagonal per parameter, HF names' },
    };
    if (inputs.chunks && inputs.chunks > 1) out.chunks = { path: 'chunks', kind: 'dir', description: 'chunk-000.safetensors …: the Fisher of each chunk of examples' };
    return out;
  },
  // Two cores on CPU backends (BLAS threads, or two wasm worker threads): clamped to the machine's slots.
  resources: { gpu: 'optional', cpu: 2 },
  worker: true,
  check(inputs) {
    const msgs: string[] = [];
    if (inputs.samples !== undefined && inputs.samples > 1 && (inputs.fisher ?? 'empirical') !== 'true') msgs.push('with.samples: only used with fisher: true');
    return msgs;
  },
  async run(ctx) {
    const inp = ctx.inputs;
    const fisher = inp.fisher ?? 'empirical';
    if (!FISHER_TYPES.includes(fisher)) throw new StageInputError(`with.fisher: "${String(fisher)}" is not one of ${FISHER_TYPES.join(', ')}`);
    requireClassifierHead(inp.model, 'with.model', 'fim');
    let rows = await readTokenizedJsonl(inp.data);
    if (inp.max_examples !== undefined) rows = rows.slice(0, inp.max_examples);
    const examples = rows.map((row, index) => ({ index, row }));
    const backend: BackendName = inp.backend ?? 'auto';
    // A GPU assigned by the scheduler (resources gpu: optional) makes 'auto' try GPU backends first.
    const gpu = ctx.device.gpus.length > 0;
    const [mHash, dHash] = await Promise.all([modelHash(inp.model), sha256File(inp.data)]);
    ctx.log(`fim: ${fisher} Fisher of ${inp.model} over ${examples.length} examples of ${inp.data}`);
    const t0 = Date.now();
    // TensorFlow.js loads here, not when the engine imports this module to plan.
    const { computeFim } = await import('./compute.js');
    const res = await computeFim(examples, {
      modelDir: inp.model, backend, gpu, fisher, samples: inp.samples ?? 1, seed: inp.seed ?? 0, batchSize: inp.batch_size ?? 4,
      workers: inp.workers, threads: inp.threads, chunks: inp.chunks, signal: ctx.signal,
      onProgress: (d, t) => ctx.progress(d, t, 'examples'), log: ctx.log,
    });
    const secs = (Date.now() - t0) / 1000;
    ctx.log(`fim: ${res.examples} examples in ${secs.toFixed(1)} s (${(res.examples / secs).toFixed(2)} examples/s) on ${res.info.backend}`);
    const meta: Record<string, string> = {
      fisherflow: 'fim', format_version: FIM_FORMAT_VERSION, fisher, examples: String(res.examples),
      samples: String(fisher === 'true' ? inp.samples ?? 1 : 0), seed: String(inp.seed ?? 0), batch_size: String(inp.batch_size ?? 4),
      model: portablePath(inp.model), model_sha256: mHash, data: portablePath(inp.data), data_sha256: dHash,
      ...backendMetadata(res.info), workers: String(res.workers),
      chunks: String(res.chunks.length),
    };
    const toTensors = (m: Map<string, Float32Array>, shapes: Map<string, number[]>) =>
      [...m].map(([name, data]) => ({ name, shape: shapes.get(name)!, data }));
    const shapes = parameterShapes(readConfig(inp.model));
    writeSafetensors(join(ctx.outDir, 'fim.safetensors'), toTensors(res.fisher, shapes), meta);
    if (res.chunks.length) {
      const dir = join(ctx.outDir, 'chunks');
      mkdirSync(dir, { recursive: true });
      res.chunks.forEach((c, k) => {
        writeSafetensors(join(dir, `chunk-${String(k).padStart(3, '0')}.safetensors`), toTensors(c.fisher, shapes), {
          ...meta, examples: String(c.examples), chunk: String(k), first_row: String(c.first + 1), last_row: String(c.last + 1),
        });
      });
    }
  },
});

export default stage;
