// A StageRunContext for unit tests of built-in stages, without the engine.
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StageRunContext } from '../../src/stage/api.js';

export interface TestContext<I> extends StageRunContext<I> {
  logs: string[];
  progressEvents: Array<{ done: number; total: number; note?: string }>;
}

export function tempDir(prefix = 'ff-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function makeStageContext<I>(inputs: I, opts: { stage?: string; outDir?: string; workDir?: string; signal?: AbortSignal } = {}): TestContext<I> {
  const root = tempDir();
  const outDir = opts.outDir ?? join(root, 'out');
  const workDir = opts.workDir ?? join(root, 'work');
  mkdirSync(outDir, { recursive: true });
  mkdirSync(workDir, { recursive: true });
  const logs: string[] = [];
  const progressEvents: Array<{ done: number; total: number; note?: string }> = [];
  return {
    stage: opts.stage ?? 'test-stage',
    inputs,
    outDir,
    workDir,
    log: (m) => { logs.push(m); },
    progress: (done, total, note) => { progressEvents.push({ done, total, note }); },
    signal: opts.signal ?? new AbortController().signal,
    device: { gpus: [] },
    logs,
    progressEvents,
  };
}
