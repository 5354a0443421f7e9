// The files behind the report's fusion and interpolation sections: the evaluate stage's
// metrics.json, read permissively (as the other report inputs: extra fields allowed, numbers may
// be null), and grouped into what the sections draw.

import { Ajv } from 'ajv';
import { StageInputError } from 'fisherflow';
import { describeError, readJson } from './report-data.js';

export interface SetAccuracy {
  accuracy?: number | null;
  loss?: number | null;
  examples?: number;
  /** confusion[label][predicted] (the evaluate stage writes it): label counts for the majority baseline. */
  confusion?: number[][];
}

export interface EvaluationFile {
  sets: Record<string, SetAccuracy>;
  /** What it ran on (the evaluate stage records it). */
  backend?: string;
  device?: string;
  blas?: string;
  adapter?: string;
  model?: { path?: string; merge?: { method?: string; weights?: number[]; models?: Array<{ name?: string }> } };
}

/** A named evaluation: a model (or fused model) and its metrics.json. */
export interface Evaluation {
  name: string;
  file: string;
  data: EvaluationFile;
}

/** `fusion:` input: each model on its own sets, each fused model on every set. */
export interface FusionEvaluations {
  models: Evaluation[];
  fused: Evaluation[];
}

/** One point of an interpolation path. */
export interface InterpolationPoint {
  alpha: number;
  evaluation: Evaluation;
}

/** One pair's path, α = 0 at `from`, 1 at `to`. */
export interface InterpolationPath {
  /** The pair's name: the key before ",ALPHA" (e.g. `tic-op`), the overlap section to link. */
  pair: string;
  from: string;
  to: string;
  points: InterpolationPoint[];
}

const numberOrNull = { type: ['number', 'null'] };
const evaluationSchema = {
  type: 'object',
  required: ['sets'],
  properties: {
    sets: { type: 'object', additionalProperties: { type: 'object', properties: { accuracy: numberOrNull, loss: numberOrNull, examples: { type: 'number' } } } },
    model: {
      type: 'object',
      properties: {
        merge: { type: 'object', properties: { weights: { type: 'array', items: { type: 'number' } }, models: { type: 'array', items: { type: 'object' } } } },
      },
    },
  },
};
const validateEvaluation = new Ajv({ allErrors: false, strict: false }).compile<EvaluationFile>(evaluationSchema);

export function readEvaluation(file: string, input: string): EvaluationFile {
  const data = readJson(file, input);
  if (!validateEvaluation(data)) {
    throw new StageInputError(`with.${input}: ${file}: ${describeError(validateEvaluation.errors![0]!)} (expected a metrics.json written by the evaluate stage)`);
  }
  return data;
}

export function readEvaluations(files: Record<string, string>, input: string): Evaluation[] {
  return Object.entries(files).map(([name, file]) => ({ name, file, data: readEvaluation(file, `${input}.${name}`) }));
}

/**
 * Groups `PAIR,ALPHA` → metrics.json (what a matrix over pair and alpha names its members) into
 * paths. α comes from the key, or else from the merge record (weights [1 − α, α]); the end points'
 * names from the merge record's model names, or else from PAIR split at '-'.
 */
export function interpolationPaths(evaluations: Evaluation[], input: string): InterpolationPath[] {
  const paths = new Map<string, InterpolationPath>();
  for (const ev of evaluations) {
    const comma = ev.name.lastIndexOf(',');
    const merge = ev.data.model?.merge;
    const w = merge?.weights;
    let alpha = comma > 0 ? Number(ev.name.slice(comma + 1)) : NaN;
    if (!Number.isFinite(alpha) && w?.length === 2 && w[0]! + w[1]! !== 0) alpha = w[1]! / (w[0]! + w[1]!);
    if (!Number.isFinite(alpha)) {
      throw new StageInputError(`with.${input}.${ev.name}: cannot tell α: name it PAIR,ALPHA (as a matrix over pair and alpha does) or evaluate a model the merge stage made from two models`);
    }
    const pair = comma > 0 && Number.isFinite(Number(ev.name.slice(comma + 1))) ? ev.name.slice(0, comma) : ev.name;
    const names = merge?.models?.map((m) => m.name).filter((n): n is string => typeof n === 'string' && !/^\d+$/.test(n));
    const [from, to] = names?.length === 2 ? names : pair.includes('-') ? [pair.slice(0, pair.indexOf('-')), pair.slice(pair.indexOf('-') + 1)] : ['first', 'second'];
    let path = paths.get(pair);
    if (!path) paths.set(pair, path = { pair, from: from!, to: to!, points: [] });
    path.points.push({ alpha, evaluation: ev });
  }
  for (const p of paths.values()) p.points.sort((a, b) => a.alpha - b.alpha);
  return [...paths.values()];
}

/** A set name `KIND,SPLIT` split into its model and split (no comma: the whole name is the split). */
export function splitSetName(name: string): { model: string | null; split: string } {
  const i = name.indexOf(',');
  return i > 0 ? { model: name.slice(0, i), split: name.slice(i + 1) } : { model: null, split: name };
}
