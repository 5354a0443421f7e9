// Temporary folders for this area's tests, removed when the test file finishes (model and
// optimizer checkpoints add up to tens of MB per run otherwise).
import { after } from 'node:test';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StageRunContext } from '../../src/stage/api.js';
import { makeStageContext, tempDir, type TestContext } from '../helpers/stage-context.js';

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export function scratchDir(prefix = 'ff-train-'): string {
  const d = tempDir(prefix);
  made.push(d);
  return d;
}

/** makeStageContext whose own temporary root is removed after the file's tests. */
export function stageContext<I>(inputs: I, opts: Parameters<typeof makeStageContext>[1] = {}): TestContext<I> & StageRunContext<I> {
  const ctx = makeStageContext(inputs, opts);
  if (!opts.outDir) made.push(dirname(ctx.outDir));
  return ctx;
}
