// Is a model's accuracy on a set distinguishable from guessing? The Wilson score interval of the
// accuracy (n examples, 95 %) is compared with the two baselines a guesser reaches: chance
// (1 / number of classes) and always predicting the majority class. A model whose interval
// reaches either baseline has shown no evidence of having learnt the set, and every overlap
// computed from its Fishers says nothing about knowledge it does not have: the report flags it.

import { splitSetName, type Evaluation, type SetAccuracy } from './fusion-data.js';

/** z for a two-sided 95 % interval. */
const Z95 = 1.959963984540054;

/** Wilson score interval of a proportion p observed over n trials. */
export function wilsonInterval(p: number, n: number, z = Z95): { low: number; high: number } {
  if (!(n > 0)) return { low: 0, high: 1 };
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

export interface ChanceCheck {
  accuracy: number;
  examples: number;
  low: number;
  high: number;
  /** 1 / classes. */
  chance: number;
  /** Share of the most frequent label (null: no confusion matrix to count labels from). */
  majority: number | null;
  /** The interval reaches chance or the majority share (or lies below them). */
  atChance: boolean;
  /** What it is indistinguishable from, for the warning. */
  baseline: 'chance' | 'majority class' | null;
}

/** The check for one set's evaluation; null without an accuracy and an example count. */
export function chanceCheck(r: SetAccuracy & { confusion?: number[][] }, classes = 2): ChanceCheck | null {
  const acc = r.accuracy;
  const n = r.examples ?? (r.confusion ? r.confusion.flat().reduce((a, b) => a + b, 0) : undefined);
  if (typeof acc !== 'number' || !Number.isFinite(acc) || !n) return null;
  const k = Math.max(classes, r.confusion?.length ?? 0);
  const rows = r.confusion?.map((row) => row.reduce((a, b) => a + b, 0));
  const total = rows?.reduce((a, b) => a + b, 0) ?? 0;
  const majority = rows && total > 0 ? Math.max(...rows) / total : null;
  const chance = 1 / k;
  const { low, high } = wilsonInterval(acc, n);
  // Not above the baseline: the interval's lower end reaches it (or the whole interval is below).
  const reaches = (b: number) => low <= b;
  const baseline = reaches(chance) ? 'chance' : majority !== null && reaches(majority) ? 'majority class' : null;
  return { accuracy: acc, examples: n, low, high, chance, majority, atChance: baseline !== null, baseline };
}

/** One model's sets: split name (synthetic_dev, original_dev, …) → accuracy and check. */
export interface ModelAccuracy {
  model: string;
  sets: Array<{ set: string; split: string; check: ChanceCheck | null; accuracy: number | null }>;
}

/** Each evaluated model's own sets (`KIND,SPLIT` names give the split; else the set name). */
export function modelAccuracies(models: readonly Evaluation[]): Map<string, ModelAccuracy> {
  const out = new Map<string, ModelAccuracy>();
  for (const m of models) {
    const entry: ModelAccuracy = { model: m.name, sets: [] };
    for (const [set, r] of Object.entries(m.data.sets)) {
      const acc = typeof r.accuracy === 'number' && Number.isFinite(r.accuracy) ? r.accuracy : null;
      entry.sets.push({ set, split: splitSetName(set).split, check: chanceCheck(r), accuracy: acc });
    }
    out.set(m.name, entry);
  }
  return out;
}

/**
 * The model a Fisher belongs to: a Fisher named MODEL or MODEL_anything (MODEL-…, MODEL,…) is of
 * MODEL; the longest matching model name wins. Null when no evaluated model matches.
 */
export function modelOfFisher(fisher: string, models: Iterable<string>): string | null {
  let best: string | null = null;
  for (const m of models) {
    if ((fisher === m || (fisher.startsWith(m) && /^[_,\-@.~]/.test(fisher.slice(m.length)))) && (best === null || m.length > best.length)) best = m;
  }
  return best;
}

/** "original_dev 50.2 % (95 % CI 46.9–53.5 %, n = 872) is at chance (50 %)". */
export function chanceWarning(model: string, split: string, c: ChanceCheck): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)}`;
  const base = c.baseline === 'majority class' ? `the majority class (${pct(c.majority!)} %)` : `chance (${pct(c.chance)} %)`;
  return `${model} on ${split}: ${pct(c.accuracy)} % (95 % CI ${pct(c.low)}–${pct(c.high)} %, n = ${c.examples}) is within reach of ${base}`;
}
