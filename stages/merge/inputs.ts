// The `with:` of the merge stage: schema, semantic checks, and the sources it resolves to.
import { HUB_KEYWORD, PATH_KEYWORD, type JsonSchema } from 'fisherflow';

export const MERGE_METHODS = ['average', 'fisher', 'task_arithmetic'] as const;
export type MergeMethod = (typeof MERGE_METHODS)[number];

/** Matena & Raffel's default fisher_floor (model_merging, merge_and_evaluate.py). */
export const DEFAULT_FISHER_FLOOR = 1e-6;

export interface MergeInputs {
  method?: MergeMethod;
  /** Checkpoint folders: a list, or a map name → folder (names appear in errors and metadata). */
  models: string[] | Record<string, string>;
  /** One per model (a list in the models' order, or a map by model name). */
  weights?: number[] | Record<string, number>;
  /** fisher: the fim stage's fim.safetensors of each model (a list, or a map by model name). */
  fishers?: string[] | Record<string, string>;
  fisher_floor?: number;
  normalize_fishers?: boolean;
  /** task_arithmetic: the checkpoint the models were fine-tuned from. */
  base?: string;
  /** task_arithmetic: λ. */
  scaling?: number;
}

/** One input file or folder with the name errors and metadata use for it. */
export interface Source {
  /** e.g. `models.op` or `models[1]`. */
  label: string;
  name: string;
  path: string;
}

const path = { type: 'string', minLength: 1, [PATH_KEYWORD]: true };
/** A checkpoint folder, or a Hugging Face id in the local cache. */
const model = { ...path, [HUB_KEYWORD]: 'model' };
const pathsListOrMap = (what: string, item: Record<string, unknown> = path) => ({
  description: what,
  oneOf: [
    { type: 'array', minItems: 1, items: item },
    { type: 'object', minProperties: 1, additionalProperties: item },
  ],
});

export const mergeInputSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['models'],
  properties: {
    method: {
      enum: MERGE_METHODS, default: 'average',
      description: 'average: Σ wᵢθᵢ (the paper\'s fuse_models; weights [1−α, α] interpolate); fisher: Σ wᵢF̃ᵢθᵢ / Σ wᵢF̃ᵢ with F̃ = max(F, fisher_floor) per parameter (Matena & Raffel); task_arithmetic: θ_base + λ Σ wᵢ(θᵢ − θ_base) (Ilharco et al.). No geometric mean: see the README.',
    },
    models: pathsListOrMap('Checkpoint folders with the same architecture and vocabulary (config.json + model.safetensors or pytorch_model.bin): a list, or a map name → folder. The output takes the first one\'s config and tokenizer. A Hugging Face id names the snapshot in the local cache.', model),
    weights: {
      description: 'One weight per model (a list in order, or a map by model name). Default: 1/n each for average, 1 each otherwise. Not normalised: average computes exactly Σ wᵢθᵢ.',
      oneOf: [{ type: 'array', items: { type: 'number' } }, { type: 'object', additionalProperties: { type: 'number' } }],
    },
    fishers: pathsListOrMap('fisher: each model\'s diagonal Fisher (the fim stage\'s fim.safetensors), in the models\' order or by model name.'),
    fisher_floor: { type: 'number', minimum: 0, default: DEFAULT_FISHER_FLOOR, description: 'fisher: ε; each Fisher value is raised to at least ε, so a parameter no model\'s Fisher covers gets the weighted average instead of 0/0.' },
    normalize_fishers: { type: 'boolean', default: false, description: 'fisher: divide each model\'s Fisher by its L2 norm over all parameters first (Matena & Raffel\'s normalize_fishers).' },
    base: { ...model, description: 'task_arithmetic: the checkpoint the models were fine-tuned from (a folder, or a Hugging Face id such as bert-base-cased in the local cache). Tensors it lacks (a classification head added at fine-tuning) get the weighted average of the models.' },
    scaling: { type: 'number', default: 1, description: 'task_arithmetic: λ, the scale of the summed task vectors.' },
  },
};

/** Names and paths of a list or map input, in order. */
export function sourcesOf(input: string[] | Record<string, string>, key: string): Source[] {
  if (Array.isArray(input)) return input.map((p, i) => ({ label: `${key}[${i}]`, name: String(i), path: p }));
  return Object.entries(input).map(([name, p]) => ({ label: `${key}.${name}`, name, path: p }));
}

/** The weight of each model, in the models' order, with the method's default. */
export function resolveWeights(inputs: MergeInputs, models: Source[]): number[] {
  const method = inputs.method ?? 'average';
  const w = inputs.weights;
  if (w === undefined) return models.map(() => (method === 'average' ? 1 / models.length : 1));
  if (Array.isArray(w)) return w.slice();
  return models.map((m) => w[m.name]!);
}

export function checkMergeInputs(inputs: MergeInputs): string[] {
  const problems: string[] = [];
  const method = inputs.method ?? 'average';
  const models = sourcesOf(inputs.models, 'models');
  const w = inputs.weights;
  if (Array.isArray(w)) {
    if (w.length !== models.length) problems.push(`with.weights: ${w.length} weights for ${models.length} models; give one per model`);
  } else if (w !== undefined) {
    if (Array.isArray(inputs.models)) problems.push('with.weights: a map of weights needs models given as a map (name → folder); give a list in the models\' order');
    else {
      for (const m of models) if (!(m.name in w)) problems.push(`with.weights: no weight for model '${m.name}'`);
      for (const k of Object.keys(w)) if (!models.some((m) => m.name === k)) problems.push(`with.weights.${k}: no model named '${k}' (models: ${models.map((m) => m.name).join(', ')})`);
    }
  }
  if (w !== undefined && Object.values(w).some((x) => !Number.isFinite(x))) problems.push('with.weights: expected finite numbers');
  if (method === 'fisher') {
    if (inputs.fishers === undefined) problems.push('with.fishers: method fisher needs one Fisher (the fim stage\'s fim.safetensors) per model');
    else {
      const f = inputs.fishers;
      if (Array.isArray(f) !== Array.isArray(inputs.models)) problems.push('with.fishers: give the fishers as the models are given (both lists, or both maps by model name)');
      else if (Array.isArray(f)) {
        if (f.length !== models.length) problems.push(`with.fishers: ${f.length} Fishers for ${models.length} models; give one per model`);
      } else {
        for (const m of models) if (!(m.name in f)) problems.push(`with.fishers: no Fisher for model '${m.name}'`);
        for (const k of Object.keys(f)) if (!models.some((m) => m.name === k)) problems.push(`with.fishers.${k}: no model named '${k}' (models: ${models.map((m) => m.name).join(', ')})`);
      }
    }
    if (w !== undefined && (Object.values(w).some((x) => x < 0) || !Object.values(w).some((x) => x > 0))) {
      problems.push('with.weights: method fisher needs non-negative weights, at least one positive');
    }
  } else {
    if (inputs.fishers !== undefined) problems.push(`with.fishers: only used by method fisher (method is ${method})`);
    if (inputs.fisher_floor !== undefined) problems.push(`with.fisher_floor: only used by method fisher (method is ${method})`);
    if (inputs.normalize_fishers !== undefined) problems.push(`with.normalize_fishers: only used by method fisher (method is ${method})`);
  }
  if (method === 'task_arithmetic') {
    if (inputs.base === undefined) problems.push('with.base: method task_arithmetic needs the base checkpoint the models were fine-tuned from');
  } else {
    if (inputs.base !== undefined) problems.push(`with.base: only used by method task_arithmetic (method is ${method})`);
    if (inputs.scaling !== undefined) problems.push(`with.scaling: only used by method task_arithmetic (method is ${method})`);
  }
  return problems;
}
