// How commands name a stage and find its result: stage names with did-you-mean, `STAGE.OUTPUT`
// (output names may hold dots, `model.pkl`; member names too, `fim@0.5`), and the run the lock
// file records — what `show` and `logs` answer for unless --set/--params ask about another one.
import type { RunRecord } from '../cache/store.js';
import { UserError } from '../errors.js';
import { didYouMean } from '../pipeline/errors.js';
import { planPipeline } from '../plan/plan.js';
import { formatReasons } from '../plan/reasons.js';
import type { Workspace } from '../plan/workspace.js';
import type { Pipeline } from '../pipeline/load.js';

/** `unknown stage 'X'` with the closest name, or the stages sharing its family, or some stages. */
export function unknownStage(name: string, names: string[], what = 'unknown stage'): UserError {
  const similar = didYouMean(name, names);
  const family = names.filter((n) => n.startsWith(`${name.split('@')[0]}@`));
  const hint = similar || (family.length ? `; stages with that prefix: ${family.slice(0, 8).join(', ')}` : names.length ? `; its stages: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''}` : '');
  return new UserError(`${what} '${name}'${hint}`);
}

/** A stage name of the pipeline, or a located complaint. */
export function requireStage(ws: Workspace, name: string): string {
  if (!ws.pipeline.stages.has(name)) throw unknownStage(name, [...ws.pipeline.stages.keys()]);
  return name;
}

/** `STAGE` or `STAGE.OUTPUT`, split where the stage exists (and, if several splits do, where the output exists too). */
export function parseStageTarget(ws: Workspace, target: string): { stage: string; output?: string } {
  const stages = ws.pipeline.stages;
  if (stages.has(target)) return { stage: target };
  const splits: Array<{ stage: string; output: string }> = [];
  for (let i = target.indexOf('.'); i > 0; i = target.indexOf('.', i + 1)) {
    const stage = target.slice(0, i);
    if (stages.has(stage)) splits.push({ stage, output: target.slice(i + 1) });
  }
  const exact = splits.find((s) => s.output in stages.get(s.stage)!.outs);
  if (exact) return exact;
  if (splits.length) {
    const { stage, output } = splits[0];
    const outs = Object.keys(stages.get(stage)!.outs);
    throw new UserError(`stage '${stage}' has no output '${output}'${didYouMean(output, outs)}; its outputs: ${outs.join(', ') || '(none)'}`);
  }
  const dot = target.indexOf('.');
  throw unknownStage(dot > 0 ? target.slice(0, dot) : target, [...stages.keys()]);
}

/** Whether the command was asked about params other than the pipeline's own. */
export const hasOverrides = (o: { set?: string[]; params?: string }): boolean => Boolean(o.set?.length || o.params);

/**
 * The result `show` answers with: without overrides, the run the lock file records (after
 * `run --set k=v` that is the run with k=v, and no planning is needed, so defaults that name
 * files that do not exist do no harm); with overrides, or when the lock file has no intact
 * result, the current plan's.
 */
export function stageResult(ws: Workspace, stage: string, overrides: boolean): RunRecord {
  const entry = overrides ? undefined : ws.previousLock?.stages[stage];
  if (entry) {
    const rec = ws.store.readRecord(entry.key);
    if (rec && !ws.store.verify(rec)) return rec;
  }
  const plan = planPipeline(ws).get(stage)!;
  if (plan.status !== 'up-to-date' || !plan.record) throw new UserError(`stage '${stage}' has no current result (${formatReasons(plan.reasons).join('; ')}); run the pipeline first`);
  return plan.record;
}

/**
 * The keys whose logs `logs` may show: the current plan's (a failed attempt leaves its log
 * there) and the lock file's. Without overrides, a plan that cannot be made (defaults naming
 * files that do not exist, after `run --set`) leaves the lock file's alone.
 */
export function stageLogKeys(ws: Workspace, stage: string, overrides: boolean): string[] {
  const recorded = ws.previousLock?.stages[stage]?.key;
  let planned: string | null = null;
  try {
    planned = planPipeline(ws).get(stage)!.key;
  } catch (e) {
    if (overrides || !recorded || !(e instanceof UserError)) throw e;
  }
  return [...new Set([planned, recorded].filter((k): k is string => Boolean(k)))];
}

/** Target names → concrete stage names (a foreach/matrix family stands for its members); an unknown one is an error with a suggestion. */
export function resolveTargets(pipeline: Pipeline, targets: string[]): string[] {
  const out: string[] = [];
  for (const t of targets) {
    const members = pipeline.families.get(t) ?? (pipeline.stages.has(t) ? [t] : undefined);
    if (!members) throw unknownStage(t, [...new Set([...pipeline.families.keys(), ...pipeline.stages.keys()])]);
    out.push(...members);
  }
  return [...new Set(out)];
}
