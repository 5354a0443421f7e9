// Learning-rate schedule of HF's `get_linear_schedule_with_warmup` (a LambdaLR multiplier).

/** Multiplier of the base learning rate for optimizer step `step` (0-based: the rate the step uses). */
export function linearWarmupDecay(step: number, warmupSteps: number, totalSteps: number): number {
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
}

/** HF TrainingArguments.get_warmup_steps: explicit steps win over the ratio; the ratio rounds up. */
export function warmupStepsFor(totalSteps: number, opts: { warmupSteps?: number; warmupRatio?: number }): number {
  if (opts.warmupSteps && opts.warmupSteps > 0) return opts.warmupSteps;
  return Math.ceil(totalSteps * (opts.warmupRatio ?? 0));
}
