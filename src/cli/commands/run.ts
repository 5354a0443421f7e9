// `fisherflow run`: run the stale stages of a pipeline (or answer from the no-op fast path).
import { Option, type Command } from 'commander';
import { dirname, join } from 'node:path';
import { openWorkspace, printWarningText, projectRoot } from '../../plan/workspace.js';
import { formatReasons } from '../../plan/reasons.js';
import { addPipelineOptions, addRemoteOption, addRunOptions, examples, pipelineAndTargets, workspaceOptions } from '../options.js';
import { resolveTargets, unknownStage } from '../stage-target.js';
import { ensureGitignored } from '../../run/gitignore.js';
import { onInterrupt } from '../interrupt.js';
import type { RunRemote } from '../remote-options.js';
import type { RunResult } from '../../run/run.js';

export interface RunCommandOptions {
  set: string[];
  params?: string;
  store?: string;
  force?: boolean | string[];
  dryRun?: boolean;
  json?: boolean;
  jobs?: number;
  gpus?: string;
  jobsPerGpu?: number;
  keepGoing?: boolean;
  /** --remote NAME, or false for --no-remote. */
  remote?: string | boolean;
  /** --push / --no-push (default: remote.push in the config). */
  push?: boolean;
  executor?: string;
}

export function register(program: Command): void {
  addRemoteOption(
    addRunOptions(
      addPipelineOptions(program.command('run').argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)').argument('[targets...]', 'run only these stages and what they need (default: every stage)'))
        .description('run the stages whose inputs changed')
        .addOption(new Option('--force [stages...]', 'rerun these stages (all when none named) and their dependents'))
        .option('--dry-run', 'show what would run, run nothing'),
    ),
    true,
  )
    .addHelpText('after', examples(['fisherflow run', 'fisherflow run pipelines/demo.yaml --set train.epochs=6', 'fisherflow run --params sweep/big.yaml', 'fisherflow run --force train      # rerun train (every member of a foreach) and what depends on it', 'fisherflow run --dry-run          # what would run, and why', 'fisherflow run -j 4 --gpus 0,1', 'fisherflow run --push             # and upload the results to the remote']))
    .option('--push', 'upload the results this run computed to the remote')
    .option('--no-push', "do not push, whatever the config's remote.push says")
    .action((first: string | undefined, rest: string[], o: RunCommandOptions) => {
      const { file, targets } = pipelineAndTargets(first === undefined ? rest : [first, ...rest]);
      return runCommand(file, o, targets);
    });
}

export async function runCommand(file: string | undefined, o: RunCommandOptions, targetNames: string[] = []): Promise<void> {
  const started = performance.now();
  const [{ runPipeline }, { pipelineSummary }, { detectGpus }, { createRunDisplay }, { fastPathArgs, tryFastPath, saveFastPath }, { WorkspaceLock }, { executorSettings }] = await Promise.all([
    import('../../run/run.js'),
    import('../../run/summary.js'),
    import('../../schedule/devices.js'),
    import('../display.js'),
    import('../../run/fast-path.js'),
    import('../../cache/workspace-lock.js'),
    import('../../run/executors.js'),
  ]);
  const fastArgs = fastPathArgs(file, o);
  // The fast path knows whole-pipeline runs only.
  const useFastPath = !o.force && !o.dryRun && targetNames.length === 0;
  if (useFastPath) {
    const hit = tryFastPath(fastArgs);
    if (hit) {
      hit.warnings.forEach(printWarningText);
      const root = projectRoot(dirname(fastArgs.pipelineFile));
      // Nothing changed since the last successful run: every stage is cached. Still respect
      // another run in progress.
      const lock = new WorkspaceLock(join(root, '.fisherflow', 'run.lock'));
      lock.acquire('fisherflow run (no-op check)');
      lock.release();
      const display = createRunDisplay(o.json ? 'json' : process.stdout.isTTY ? 'tty' : 'plain', process.stdout);
      display.handle({ type: 'plan', stages: hit.stages.map((st) => ({ name: st.name, status: 'cached' })) });
      display.handle({ type: 'summary', ran: 0, cached: hit.stages.length, failed: 0, skipped: 0, seconds: (performance.now() - started) / 1000 });
      display.close();
      if (o.json) process.stdout.write(`${JSON.stringify({ stages: hit.stages.map((st) => ({ name: st.name, status: 'cached', key: st.key, seconds: 0 })) })}\n`);
      else if (hit.summary.length) process.stdout.write(`\n${hit.summary.join('\n')}\n`);
      return;
    }
  }
  const ws = await openWorkspace(file, workspaceOptions(o));
  const executors = executorSettings(ws.root, o);
  const gpus = await detectGpus({ flag: o.gpus });
  const force = o.force === true ? true : Array.isArray(o.force) ? o.force : undefined;
  if (Array.isArray(force)) for (const f of force) if (!ws.pipeline.stages.has(f) && !ws.pipeline.families.has(f)) throw unknownStage(f, [...new Set([...ws.pipeline.families.keys(), ...ws.pipeline.stages.keys()])], '--force: unknown stage');
  const forced = Array.isArray(force) ? force.flatMap((f) => ws.pipeline.families.get(f) ?? [f]) : force;
  const targets = targetNames.length ? resolveTargets(ws.pipeline, targetNames) : undefined;
  // After the arguments are checked: a mistyped command changes nothing.
  if (!o.dryRun) {
    const ignored = ensureGitignored(ws);
    // Said once: the next run finds the lines there. On stderr with --json, whose stdout is one object.
    if (ignored.length) (o.json ? process.stderr : process.stdout).write(`added to .gitignore: ${ignored.join(' ')} (the store, fisherflow's state and stage outputs stay out of git; commit the pipeline and its lock file)\n`);
  }
  // --dry-run prints its own list (every stage, with reasons) instead of the live display.
  const display = createRunDisplay(o.json || o.dryRun ? 'json' : process.stdout.isTTY ? 'tty' : 'plain', process.stdout);
  const interrupt = onInterrupt({ quiet: o.json });
  // The shared remote cache, when one is configured (src/cache/remote/): asked before a stale stage runs.
  const shared = o.dryRun ? undefined : (await import('../remote-options.js')).runRemote(ws.root, ws.store, o, (stage, message) => display.handle({ type: 'note', stage, message }));
  try {
    const res = await runPipeline(ws, { force: forced, targets, dryRun: o.dryRun, jobs: executors.jobs, executors, keepGoing: o.keepGoing, gpus: gpus.devices, jobsPerGpu: o.jobsPerGpu, signal: interrupt.signal, emit: display.handle, remote: shared?.results });
    display.close();
    const pushed = shared?.push && !res.interrupted ? await pushComputed(shared, res, o.json) : true;
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ stages: res.stages.map((s) => ({ name: s.name, status: s.status, key: s.key, seconds: Math.round(s.seconds * 1000) / 1000, ...(s.error ? { error: s.error } : {}) })) })}\n`);
    } else if (o.dryRun) {
      for (const s of res.stages) {
        // A cached stage with reasons only needs its workspace outputs copied back, unless one is the user's.
        const label = s.reasons?.some((r) => r.kind === 'output-modified') ? 'blocked   ' : s.status !== 'cached' ? 'would run ' : s.reasons?.length ? 'restore   ' : 'up-to-date';
        process.stdout.write(`${label}  ${s.name}${s.reasons?.length ? `: ${formatReasons(s.reasons).join('; ')}` : ''}\n`);
      }
    }
    // The summary speaks of the whole pipeline: not after a run of some targets.
    if (res.ok && !o.dryRun && !res.interrupted && !targets) {
      const { publishOutputs, publishedPaths } = await import('../../run/publish.js');
      const published = publishOutputs(ws, res.records);
      for (const w of published.warnings) process.stderr.write(`${w}\n`);
      const lines = pipelineSummary(ws, res.records);
      if (!o.json && lines.length) process.stdout.write(`\n${lines.join('\n')}\n`);
      // A published copy that was changed or removed makes the next run plan normally (and publish again).
      if (useFastPath && published.warnings.length === 0) saveFastPath(ws, fastArgs, res.records, lines, publishedPaths(ws));
    }
    process.exitCode = res.interrupted ? 130 : res.ok && pushed ? 0 : 1;
  } finally {
    shared?.close();
    display.close(); // also when the run threw (a full disk): no progress timer keeps the process alive
    interrupt.dispose();
  }
}

/** `run --push`: upload the results of the stages that ran (a summary line on stderr). */
async function pushComputed(shared: RunRemote, res: RunResult, json: boolean | undefined): Promise<boolean> {
  const items = res.stages.filter((s) => s.status === 'ran').map((s) => ({ stage: s.name, record: res.records.get(s.name)! }));
  if (items.length === 0) return true;
  const r = await shared.pushResults(items, json);
  process.stderr.write(`${r.message}\n`);
  return r.ok;
}
