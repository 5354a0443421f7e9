// The public test helpers for stage authors (`import { runStage } from 'fisherflow/testing'`).
// `runStage` runs a stage the way the engine does, without a pipeline, store or cache: the inputs
// checked against the stage's schema and `check`, relative path inputs made absolute, an empty
// output folder in a fresh temporary folder; then it checks that every declared output was
// written. `makeStageContext` is the bare context, for tests that call `run` themselves.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { PipelineSnapshot, StageModule, StageRunContext } from './api.js';
import { checkStageModule } from './load-module.js';
import { collectPathInputs, compileStageSchema } from '../pipeline/load.js';

/** A context that records what the stage logged and reported. */
export interface StageTestContext<I> extends StageRunContext<I> {
  logs: string[];
  progressEvents: Array<{ done: number; total: number; note?: string }>;
}

export interface StageContextOptions {
  /** Concrete stage name (default `test-stage`). */
  stage?: string;
  outDir?: string;
  workDir?: string;
  signal?: AbortSignal;
  /** Devices the stage is given (default none: a CPU run). */
  gpus?: string[];
  pipeline?: PipelineSnapshot;
}

/** A `StageRunContext` for `inputs`, with fresh output and work folders unless given. */
export function makeStageContext<I>(inputs: I, opts: StageContextOptions = {}): StageTestContext<I> {
  const root = opts.outDir && opts.workDir ? '' : mkdtempSync(join(tmpdir(), 'fisherflow-stage-'));
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
    log: (m) => {
      logs.push(m);
    },
    progress: (done, total, note) => {
      progressEvents.push({ done, total, note });
    },
    signal: opts.signal ?? new AbortController().signal,
    device: { gpus: opts.gpus ?? [] },
    pipeline: opts.pipeline,
    logs,
    progressEvents,
  };
}

export interface RunStageOptions extends Omit<StageContextOptions, 'outDir' | 'workDir'> {
  /** The folder relative path inputs resolve against, as the pipeline's folder does (default: the current folder). */
  cwd?: string;
  /** Where the temporary folder is made (default: the system's temp folder). */
  tmpDir?: string;
}

export interface StageTestRun<I> {
  /** The temporary folder holding `out/` and `work/`; `remove()` deletes it. */
  dir: string;
  outDir: string;
  workDir: string;
  /** The inputs the stage saw (path inputs absolute). */
  inputs: I;
  /** Absolute path of each declared output, by name. */
  outputs: Record<string, string>;
  logs: string[];
  progressEvents: Array<{ done: number; total: number; note?: string }>;
  remove(): void;
}

/** Invalid inputs or a missing output, as the engine would report them. */
export class StageTestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StageTestError';
  }
}

/** Run `stage` on `inputs` in a fresh temporary folder, as the engine would, and check its outputs. */
export async function runStage<I>(stage: StageModule<I>, inputs: I, opts: RunStageOptions = {}): Promise<StageTestRun<I>> {
  const module = checkStageModule(stage, `stage '${(stage as { type?: unknown })?.type}'`);
  const resolved = structuredClone(inputs) as I;
  const validate = compileStageSchema(module);
  if (!validate(resolved)) {
    const problems = (validate.errors ?? []).map((e) => `with${e.instancePath.replace(/\//g, '.')} ${e.message ?? 'is invalid'}`);
    throw new StageTestError(`${module.type}: invalid inputs: ${problems.join('; ')}`);
  }
  const problems = module.check?.(resolved) ?? [];
  if (problems.length) throw new StageTestError(`${module.type}: ${problems.join('; ')}`);
  const cwd = resolve(opts.cwd ?? process.cwd());
  collectPathInputs(resolved, module.inputSchema, [], (path, value) => {
    if (isAbsolute(value)) return;
    let cur = resolved as Record<string, unknown>;
    for (const p of path.slice(0, -1)) cur = cur[p] as Record<string, unknown>;
    cur[path[path.length - 1]] = resolve(cwd, value);
  });
  const dir = mkdtempSync(join(opts.tmpDir ?? tmpdir(), `fisherflow-${module.type}-`));
  const ctx = makeStageContext(resolved, { ...opts, stage: opts.stage ?? module.type, outDir: join(dir, 'out'), workDir: join(dir, 'work') });
  await module.run(ctx);
  const outputs: Record<string, string> = {};
  const missing: string[] = [];
  for (const [name, spec] of Object.entries(module.outputs(resolved))) {
    const path = join(ctx.outDir, spec.path);
    outputs[name] = path;
    if (!existsSync(path)) missing.push(`'${name}' (${spec.path})`);
  }
  if (missing.length) throw new StageTestError(`${module.type}: stage finished without writing its output${missing.length > 1 ? 's' : ''} ${missing.join(', ')} in ${ctx.outDir}`);
  return {
    dir,
    outDir: ctx.outDir,
    workDir: ctx.workDir,
    inputs: resolved,
    outputs,
    logs: ctx.logs,
    progressEvents: ctx.progressEvents,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
