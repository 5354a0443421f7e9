// The files the report reads (overlap.json from the overlap stage, metrics.json from the train
// stage): their types, and loading with messages that name the file and the offending field.
//
// The schemas are deliberately permissive (extra fields allowed, most fields optional, numbers
// may be null because JSON.stringify writes NaN as null): the report should draw whatever a
// slightly older or newer producer wrote, and only refuse what it cannot interpret.

import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { StageInputError } from 'fisherflow';

export interface OverlapInterval {
  low: number;
  high: number;
  level?: number;
}

export interface OverlapPair {
  a: string;
  b: string;
  label?: string;
  kind?: string;
  overlap: number | null;
  /** Overlap per parameter group (embeddings, encoder.layer.N.attention / .ffn, pooler, classifier). */
  groups?: Record<string, number | null>;
  interval?: OverlapInterval;
}

export interface FisherInfo {
  examples?: number;
  fisher?: string;
  model?: string;
  data?: string;
  backend?: string;
}

export interface OverlapFile {
  /** "<a>~<b>" → overlap. */
  overlap?: Record<string, number | null>;
  pairs?: OverlapPair[];
  fishers?: Record<string, FisherInfo>;
}

export interface EvalResult {
  accuracy?: number | null;
  loss?: number | null;
}

export interface EpochRecord {
  epoch: number;
  step?: number;
  train_loss?: number | null;
  learning_rate?: number | null;
  seconds?: number | null;
  examples_per_second?: number | null;
  eval?: Record<string, EvalResult>;
}

export interface TrainMetrics {
  epochs?: EpochRecord[];
  final?: Record<string, EvalResult>;
  curve?: Array<{ step: number; loss: number | null }>;
}

/** One overlap.json with the name it was given in `with.overlaps` (null for `with.overlap`). */
export interface OverlapSet {
  name: string | null;
  file: string;
  data: OverlapFile;
}

export interface TrainedModel {
  name: string;
  file: string;
  metrics: TrainMetrics;
}

const numberOrNull = { type: ['number', 'null'] };

const overlapSchema = {
  type: 'object',
  properties: {
    overlap: { type: 'object', additionalProperties: numberOrNull },
    pairs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['a', 'b', 'overlap'],
        properties: {
          a: { type: 'string' },
          b: { type: 'string' },
          label: { type: 'string' },
          kind: { type: 'string' },
          overlap: numberOrNull,
          groups: { type: 'object', additionalProperties: numberOrNull },
          interval: {
            type: 'object',
            required: ['low', 'high'],
            properties: { low: { type: 'number' }, high: { type: 'number' }, level: { type: 'number' } },
          },
        },
      },
    },
    fishers: { type: 'object', additionalProperties: { type: 'object' } },
  },
};

const evalSchema = {
  type: 'object',
  properties: { accuracy: numberOrNull, loss: numberOrNull },
};

const metricsSchema = {
  type: 'object',
  properties: {
    epochs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['epoch'],
        properties: {
          epoch: { type: 'number' },
          step: { type: 'number' },
          train_loss: numberOrNull,
          learning_rate: numberOrNull,
          seconds: numberOrNull,
          examples_per_second: numberOrNull,
          eval: { type: 'object', additionalProperties: evalSchema },
        },
      },
    },
    final: { type: 'object', additionalProperties: evalSchema },
    curve: {
      type: 'array',
      items: { type: 'object', required: ['step', 'loss'], properties: { step: { type: 'number' }, loss: numberOrNull } },
    },
  },
};

const ajv = new Ajv({ allErrors: false, strict: false });
const validateOverlap = ajv.compile<OverlapFile>(overlapSchema);
const validateMetrics = ajv.compile<TrainMetrics>(metricsSchema);

/** "Unexpected token } in JSON at position 42" → "line 3, column 7". */
export function jsonErrorLocation(text: string, message: string): string {
  const m = /position (\d+)/.exec(message);
  if (!m) return '';
  const pos = Math.min(Number(m[1]), text.length);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return ` at line ${line}, column ${column}`;
}

export function describeError(e: ErrorObject): string {
  const where = e.instancePath === '' ? 'top level' : e.instancePath.slice(1).replace(/\//g, '.');
  if (e.keyword === 'required') return `${where}: missing "${(e.params as { missingProperty: string }).missingProperty}"`;
  return `${where}: ${e.message ?? 'invalid'}`;
}

export function readJson(file: string, input: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new StageInputError(`with.${input}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    throw new StageInputError(`with.${input}: ${file} is not valid JSON${jsonErrorLocation(text, msg)}: ${msg}`);
  }
}

export function readOverlapFile(file: string, input: string): OverlapFile {
  const data = readJson(file, input);
  if (!validateOverlap(data)) {
    throw new StageInputError(`with.${input}: ${file}: ${describeError(validateOverlap.errors![0]!)} (expected an overlap.json written by the overlap stage)`);
  }
  return data;
}

export function readTrainMetrics(file: string, input: string): TrainMetrics {
  const data = readJson(file, input);
  if (!validateMetrics(data)) {
    throw new StageInputError(`with.${input}: ${file}: ${describeError(validateMetrics.errors![0]!)} (expected a metrics.json written by the train stage)`);
  }
  return data;
}

/** Overlap of a and b from an overlap file, whichever order the key was written in. */
export function lookupOverlap(data: OverlapFile, a: string, b: string): number | null | undefined {
  if (a === b) return 1;
  const map = data.overlap ?? {};
  if (`${a}~${b}` in map) return map[`${a}~${b}`];
  if (`${b}~${a}` in map) return map[`${b}~${a}`];
  const pair = (data.pairs ?? []).find((p) => (p.a === a && p.b === b) || (p.a === b && p.b === a));
  return pair?.overlap;
}

/** Fisher names of an overlap file: the `fishers` map first, then any only named in pairs or keys. */
export function fisherNames(data: OverlapFile): string[] {
  const names: string[] = [];
  const add = (n: string) => { if (!names.includes(n)) names.push(n); };
  for (const n of Object.keys(data.fishers ?? {})) add(n);
  for (const p of data.pairs ?? []) { add(p.a); add(p.b); }
  for (const key of Object.keys(data.overlap ?? {})) {
    const i = key.indexOf('~');
    if (i > 0) { add(key.slice(0, i)); add(key.slice(i + 1)); }
  }
  return names;
}
