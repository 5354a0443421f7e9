// The accuracies a pipeline declares it needs (`targets: {synthetic_dev: 0.95, original_dev:
// 0.7}`): each model's set below its split's target is listed at the top of the report and in
// the terminal summary, so a shortcut that was not learnt is said in words, not left to a reader
// to notice in a table.

import type { ModelAccuracy } from './chance.js';

export interface TargetMiss {
  model: string;
  split: string;
  accuracy: number;
  target: number;
}

export function targetMisses(models: Iterable<ModelAccuracy>, targets: Record<string, number> | undefined): TargetMiss[] {
  if (!targets) return [];
  const misses: TargetMiss[] = [];
  for (const m of models) {
    for (const s of m.sets) {
      const target = targets[s.split];
      if (target !== undefined && s.accuracy !== null && s.accuracy < target) misses.push({ model: m.model, split: s.split, accuracy: s.accuracy, target });
    }
  }
  return misses;
}

/** "op on synthetic_dev: 70.39 %, below the target 95 %: not learnt to the target". */
export function targetMissText(t: TargetMiss): string {
  return `${t.model} on ${t.split}: ${(t.accuracy * 100).toFixed(2)} %, below the pipeline's target of ${Number((t.target * 100).toPrecision(4))} %`;
}
