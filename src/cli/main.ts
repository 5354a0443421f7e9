// The `fisherflow` command line.
import { Command, Option, CommanderError } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { UserError } from '../pipeline/errors.js';
import { openWorkspace, projectRoot, type WorkspaceOptions } from '../plan/workspace.js';
import { planPipeline } from '../plan/plan.js';
import { StageRegistry } from '../stage/registry.js';
import { packageVersion } from '../run/snapshot.js';
import { table } from './format.js';
import { extraCommands } from './extensions.js';
import type { DagFormat } from '../graph/render.js';
// Command implementations load on use: every invocation pays for the modules it imports.

const collect = (v: string, prev: string[] = []) => [...prev, v];

function workspaceOptions(o: { set?: string[]; params?: string; store?: string }): WorkspaceOptions {
  return { set: o.set, paramsFile: o.params, store: o.store };
}

function addPipelineOptions(cmd: Command): Command {
  return cmd
    .option('--set <key=value>', 'override a param (repeatable, dotted keys)', collect, [])
    .option('--params <file>', 'a YAML file of param overrides')
    .option('--store <dir>', 'the content-addressed store (default: artifacts/ at the project root, or $FISHERFLOW_STORE)');
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('fisherflow')
    .description('Declarative pipelines for ML analysis: cached by content, rerun only what changed, GPUs used well.')
    .version(packageVersion())
    .showSuggestionAfterError(true)
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  addPipelineOptions(program.command('run').argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)'))
    .description('run the stages whose inputs changed')
    .addOption(new Option('--force [stages...]', 'rerun these stages (all when none named) and their dependents'))
    .option('--dry-run', 'show what would run, run nothing')
    .option('--json', 'print only one JSON object with the outcome of each stage')
    .option('-j, --jobs <n>', 'CPU slots (default: number of cores)', (v) => positiveInt(v, '-j'))
    .option('--gpus <list>', 'GPU devices, e.g. 0,1 or 0:80GB,1:80GB (default: $FISHERFLOW_GPUS, else nvidia-smi)')
    .option('--jobs-per-gpu <n>', 'stages without gpu_memory that may share one device', (v) => positiveInt(v, '--jobs-per-gpu'))
    .option('-k, --keep-going', 'after a failure, keep running stages that do not depend on it')
    .action(async (file: string | undefined, o) => {
      const started = performance.now();
      const [{ runPipeline }, { pipelineSummary }, { detectGpus }, { createRunDisplay }, { fastPathArgs, tryFastPath, saveFastPath }, { WorkspaceLock }] = await Promise.all([
        import('../run/run.js'),
        import('../run/summary.js'),
        import('../schedule/devices.js'),
        import('./display.js'),
        import('../run/fast-path.js'),
        import('../cache/workspace-lock.js'),
      ]);
      const fastArgs = fastPathArgs(file, o);
      const useFastPath = !o.force && !o.dryRun;
      if (useFastPath) {
        const hit = tryFastPath(fastArgs);
        if (hit) {
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
      const gpus = await detectGpus({ flag: o.gpus });
      const force = o.force === true ? true : Array.isArray(o.force) ? o.force : undefined;
      if (Array.isArray(force)) for (const f of force) if (!ws.pipeline.stages.has(f) && !ws.pipeline.families.has(f)) throw new UserError(`--force: unknown stage '${f}'`);
      const forced = Array.isArray(force) ? force.flatMap((f) => ws.pipeline.families.get(f) ?? [f]) : force;
      // --dry-run prints its own list (every stage, with reasons) instead of the live display.
      const display = createRunDisplay(o.json || o.dryRun ? 'json' : process.stdout.isTTY ? 'tty' : 'plain', process.stdout);
      const ac = new AbortController();
      let signals = 0;
      const onSig = () => {
        signals++;
        if (signals === 1) {
          if (!o.json) process.stderr.write('\nfisherflow: interrupted; stopping running stages (Ctrl-C again to force)\n');
          ac.abort();
        } else process.exit(130);
      };
      process.on('SIGINT', onSig);
      process.on('SIGTERM', onSig);
      try {
        const res = await runPipeline(ws, { force: forced, dryRun: o.dryRun, jobs: o.jobs, keepGoing: o.keepGoing, gpus: gpus.devices, jobsPerGpu: o.jobsPerGpu, signal: ac.signal, emit: display.handle });
        display.close();
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ stages: res.stages.map((s) => ({ name: s.name, status: s.status, key: s.key, seconds: Math.round(s.seconds * 1000) / 1000, ...(s.error ? { error: s.error } : {}) })) })}\n`);
        } else if (o.dryRun) {
          for (const s of res.stages) process.stdout.write(`${s.status === 'cached' ? 'up-to-date' : 'would run '}  ${s.name}${s.reasons?.length ? `: ${s.reasons.join('; ')}` : ''}\n`);
        }
        if (res.ok && !o.dryRun && !res.interrupted) {
          const lines = pipelineSummary(ws, res.records);
          if (!o.json && lines.length) process.stdout.write(`\n${lines.join('\n')}\n`);
          if (useFastPath) saveFastPath(ws, fastArgs, res.records, lines);
        }
        process.exitCode = res.interrupted ? 130 : res.ok ? 0 : 1;
      } finally {
        process.off('SIGINT', onSig);
        process.off('SIGTERM', onSig);
      }
    });

  addPipelineOptions(program.command('status').argument('[pipeline]', 'pipeline file'))
    .description('show which stages are up to date, and exactly why the others would rerun')
    .option('--json', 'machine-readable output')
    .action(async (file: string | undefined, o) => {
      type Row = { name: string; status: 'up-to-date' | 'stale'; key: string | null; reasons: string[] };
      let list: Row[];
      let label: string;
      const { fastPathArgs, tryFastPath } = await import('../run/fast-path.js');
      const args = fastPathArgs(file, o);
      // Nothing changed since the last successful run (see src/run/fast-path.ts): all up to date.
      const hit = tryFastPath(args);
      if (hit) {
        list = hit.stages.map((st) => ({ name: st.name, status: 'up-to-date', key: st.key, reasons: [] }));
        label = relative(process.cwd(), args.pipelineFile) || args.pipelineFile;
      } else {
        const ws = await openWorkspace(file, workspaceOptions(o));
        const plans = planPipeline(ws);
        ws.statCache.save();
        list = ws.dag.order.map((n) => plans.get(n)!);
        label = ws.label;
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ pipeline: label, stages: list.map((p) => ({ name: p.name, status: p.status, key: p.key, reasons: p.reasons })) }, null, 2)}\n`);
        return;
      }
      const stale = list.filter((p) => p.status === 'stale');
      for (const p of list) {
        process.stdout.write(`${p.status === 'stale' ? 'stale     ' : 'up-to-date'}  ${p.name}\n`);
        for (const r of p.reasons) process.stdout.write(`              - ${r}\n`);
      }
      process.stdout.write(`\n${list.length - stale.length} up to date, ${stale.length} stale\n`);
    });

  addPipelineOptions(program.command('dag').argument('[pipeline]', 'pipeline file'))
    .description('print the stage graph')
    .addOption(new Option('--format <format>', 'output format').choices(['mermaid', 'dot', 'json', 'text']).default('text'))
    .action(async (file: string | undefined, o) => {
      const { renderDag } = await import('../graph/render.js');
      const ws = await openWorkspace(file, workspaceOptions(o));
      process.stdout.write(`${renderDag(ws.pipeline, ws.dag, o.format as DagFormat)}\n`);
    });

  addPipelineOptions(program.command('show').argument('<stage[.output]>', 'a stage, optionally with an output key').argument('[pipeline]', 'pipeline file'))
    .description("print the path of a stage's output in the store")
    .action(async (target: string, file: string | undefined, o) => {
      const ws = await openWorkspace(file, workspaceOptions(o));
      let stage = target;
      let output: string | undefined;
      if (!ws.pipeline.stages.has(target)) {
        const dot = target.lastIndexOf('.');
        if (dot > 0) {
          stage = target.slice(0, dot);
          output = target.slice(dot + 1);
        }
      }
      const spec = ws.pipeline.stages.get(stage);
      if (!spec) throw new UserError(`unknown stage '${stage}'${suggest(stage, [...ws.pipeline.stages.keys()])}`);
      const plan = planPipeline(ws).get(stage)!;
      if (plan.status !== 'up-to-date' || !plan.record) throw new UserError(`stage '${stage}' has no current result (${plan.reasons.join('; ')}); run the pipeline first`);
      const keys = output ? [output] : Object.keys(spec.outs);
      for (const k of keys) {
        if (!(k in spec.outs)) throw new UserError(`stage '${stage}' has no output '${k}'; its outputs: ${Object.keys(spec.outs).join(', ')}`);
        process.stdout.write(`${keys.length > 1 ? `${k}\t` : ''}${ws.store.outputPath(plan.record, k)}\n`);
      }
    });

  addPipelineOptions(program.command('logs').argument('<stage>', 'stage name').argument('[pipeline]', 'pipeline file'))
    .description("print a stage's log (its last run, or the failed attempt of its current key)")
    .action(async (stage: string, file: string | undefined, o) => {
      const ws = await openWorkspace(file, workspaceOptions(o));
      if (!ws.pipeline.stages.has(stage)) throw new UserError(`unknown stage '${stage}'${suggest(stage, [...ws.pipeline.stages.keys()])}`);
      const plan = planPipeline(ws).get(stage)!;
      const keys = [plan.key, ws.previousLock?.stages[stage]?.key].filter((k): k is string => Boolean(k));
      for (const k of keys) {
        const p = join(ws.store.root, 'logs', `${k}.log`);
        if (existsSync(p)) {
          process.stdout.write(readFileSync(p, 'utf8'));
          return;
        }
      }
      throw new UserError(`no log for stage '${stage}' yet`);
    });

  addPipelineOptions(program.command('gc').argument('[pipelines...]', 'pipeline files whose lock files keep their results (default: every *.lock beside ./fisherflow.yaml)'))
    .description('remove store entries that no lock file references (dry run unless --yes)')
    .option('--yes', 'really delete')
    .action(async (files: string[], o) => {
      const { collectGarbage } = await import('./gc.js');
      await collectGarbage(files, { yes: Boolean(o.yes), store: o.store });
    });

  program
    .command('stages')
    .description('list the built-in stage types')
    .option('--json', 'with their input schemas and outputs')
    .option('--markdown', 'the reference tables the README embeds')
    .action(async (o) => {
      const reg = StageRegistry.fromEnvironment();
      if (o.markdown) {
        const { stageReference } = await import('./stage-reference.js');
        process.stdout.write(`${await stageReference(reg)}\n`);
        return;
      }
      const rows: string[][] = [];
      const out: unknown[] = [];
      for (const t of reg.types()) {
        const m = await reg.load(t);
        rows.push([t, m.description]);
        out.push({ type: t, description: m.description, inputSchema: m.inputSchema, worker: Boolean(m.worker), resources: m.resources ?? {} });
      }
      process.stdout.write(o.json ? `${JSON.stringify(out, null, 2)}\n` : `${table(rows)}\n`);
    });

  program
    .command('exec-stage')
    .argument('<job.json>', 'a job file written for a cluster executor')
    .description('run one built-in stage from its recorded inputs alone (for executors on other machines)')
    .action(async (job: string) => {
      const { execStageFromFile } = await import('../exec/exec-stage.js');
      await execStageFromFile(job);
    });

  for (const register of extraCommands) register(program);
  return program;
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag} expects a whole number of at least 1, got '${v}'`);
  return n;
}

function suggest(name: string, names: string[]): string {
  const close = names.filter((n) => n.startsWith(name.split('@')[0]));
  return close.length ? `; stages with that prefix: ${close.slice(0, 8).join(', ')}` : '';
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (err instanceof UserError) {
      process.stderr.write(`fisherflow: ${err.format().replace(/\n/g, '\nfisherflow: ')}\n`);
      process.exitCode = 2;
      return;
    }
    if (err && (err as { name?: string }).name === 'GpuSpecError') {
      process.stderr.write(`fisherflow: ${(err as Error).message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`fisherflow: internal error: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 70;
  }
}
