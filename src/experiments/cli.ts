// Command-line registration for `metrics show`, `diff` and `exp run|show|apply|remove`.
import { type Command, Option } from 'commander';
import { dirname, relative, resolve } from 'node:path';
import { UserError } from '../pipeline/errors.js';
import { openWorkspace, defaultPipelineFile, projectRoot } from '../plan/workspace.js';
import { table } from '../cli/format.js';
import { metricFilter } from '../metrics/filter.js';

/** The command implementations, loaded when a command runs (start-up stays small). */
async function impl() {
  const [m0, m1, m2, m3, m4, m5, m6, m7, m8] = await Promise.all([
    import('../schedule/devices.js'),
    import('../cli/display.js'),
    import('../metrics/collect.js'),
    import('./diff.js'),
    import('./revision.js'),
    import('./run-experiment.js'),
    import('./show.js'),
    import('./apply.js'),
    import('./records.js'),
  ]);
  return { ...m0, ...m1, ...m2, ...m3, ...m4, ...m5, ...m6, ...m7, ...m8 };
}

const collect = (v: string, prev: string[] = []) => [...prev, v];
const out = (s: string) => process.stdout.write(s);

function wholeNumber(flag: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UserError(`${flag} expects a whole number of at least ${min}, got '${v}'`);
    return n;
  };
}

const storeOption = () => new Option('--store <dir>', 'the content-addressed store (default: artifacts/ at the project root, or $FISHERFLOW_STORE)');
const metricOption = () => new Option('--metric <pattern>', "only metrics whose name (FILE:KEY or KEY) matches; '*' is a wildcard; repeatable").argParser(collect).default([]);
const precisionOption = () => new Option('--precision <digits>', 'significant digits for metric values in tables').argParser(wholeNumber('--precision', 1)).default(6);

export function registerExperimentCommands(program: Command): void {
  const metrics = program.command('metrics').description("show the metrics files stages declare (`metrics:`)");
  metrics
    .command('show')
    .argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)')
    .description('print the metrics of the last run recorded in the lock file, keys flattened as a.b.c')
    .option('--json', 'machine-readable output')
    .addOption(storeOption())
    .addOption(metricOption())
    .addOption(precisionOption())
    .action(async (file: string | undefined, o) => {
      const m = await impl();
      const ws = await openWorkspace(file, { store: o.store });
      const pick = metricFilter(o.metric);
      const cur = m.currentResults(ws);
      const snap = m.metricsFromLock(cur.lock, ws.store, m.workspaceFileFallback(ws.pipeline.dir));
      for (const [f, values] of Object.entries(snap.files)) {
        for (const k of Object.keys(values)) if (!pick(f, k)) delete values[k];
        if (Object.keys(values).length === 0) delete snap.files[f];
      }
      // Metrics-producing stages that would rerun now: their numbers are from an older run.
      const stale: Record<string, string[]> = {};
      for (const [n, e] of Object.entries(cur.lock?.stages ?? {})) if (e.metrics?.length && cur.stale[n]) stale[n] = cur.stale[n];
      if (o.json) {
        out(`${JSON.stringify({ pipeline: ws.label, metrics: snap.files, missing: snap.missing, stale }, null, 2)}\n`);
        return;
      }
      const declared = [...ws.pipeline.stages.values()].some((s) => s.metrics.length);
      if (!cur.lock || Object.keys(cur.lock.stages).length === 0) {
        out(declared ? `${ws.label}: no lock file yet; run the pipeline first\n` : `${ws.label}: no stage declares metrics (add \`metrics: [file.json]\` to a stage)\n`);
        return;
      }
      const rows: string[][] = [];
      for (const [f, values] of Object.entries(snap.files)) for (const [k, v] of Object.entries(values)) rows.push([f, k, m.formatValue(v, o.precision)]);
      if (rows.length) out(`${table(rows, ['file', 'metric', 'value'])}\n`);
      else if (!snap.missing.length) out(declared ? `${ws.label}: no metrics recorded yet; run the pipeline\n` : `${ws.label}: no stage declares metrics\n`);
      for (const m of snap.missing) out(`note: ${m.file} (stage ${m.stage}): ${m.reason}\n`);
      for (const [n, reasons] of Object.entries(stale)) out(`note: stage ${n} is stale (${reasons.join('; ')}); its metrics are from its last run\n`);
    });

  program
    .command('diff')
    .argument('[rev_a]', 'the old revision or experiment name (default: HEAD)')
    .argument('[rev_b]', 'the new revision or experiment name (default: the working tree)')
    .description('compare params, stage keys and metrics between two git revisions (default: HEAD vs the working tree)')
    .option('-p, --pipeline <file>', 'pipeline file (default: ./fisherflow.yaml)')
    .option('--json', 'machine-readable output')
    .option('--md', 'markdown tables (for a pull request)')
    .option('--all', 'list unchanged params, stages and metrics too')
    .addOption(metricOption())
    .addOption(storeOption())
    .addOption(precisionOption())
    .action(async (revA: string | undefined, revB: string | undefined, o) => {
      const m = await impl();
      if (o.json && o.md) throw new UserError('diff: choose one of --json and --md');
      const file = o.pipeline ? resolve(o.pipeline) : defaultPipelineFile();
      const ctx = m.pipelineContext(file, "'fisherflow diff'", o.store);
      const a = m.readRevision(ctx, revA ?? 'HEAD');
      const b = revB === undefined ? await m.readWorkingTree(ctx) : m.readRevision(ctx, revB);
      const d = m.diffRevisions(ctx.pipelinePath, a, b, { all: o.all });
      const pick = metricFilter(o.metric);
      d.metrics = d.metrics.filter((m) => pick(m.file, m.key));
      if (o.json) out(`${JSON.stringify(m.diffJson(d), null, 2)}\n`);
      else if (o.md) out(m.renderDiffMarkdown(d, o.precision));
      else out(m.renderDiffText(d, o.precision));
    });

  const exp = program.command('exp').description('experiments: runs with overridden params, recorded beside the lock file and compared with commits');

  exp
    .command('run')
    .argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)')
    .description('run the pipeline with overridden params without editing the YAML or its lock file; record the result as an experiment')
    .option('--set <key=value>', 'override a param (repeatable, dotted keys)', collect, [])
    .option('--params <file>', 'a YAML file of param overrides')
    .option('-n, --name <name>', 'experiment name (default: exp-N)')
    .option('-f, --force', 'replace an existing experiment of that name')
    .option('--json', 'print only one JSON object with the experiment and the outcome of each stage')
    .option('-j, --jobs <n>', 'CPU slots (default: number of cores)', wholeNumber('-j', 1))
    .option('--gpus <list>', 'GPU devices, e.g. 0,1 or 0:80GB,1:80GB (default: $FISHERFLOW_GPUS, else nvidia-smi)')
    .option('--jobs-per-gpu <n>', 'stages without gpu_memory that may share one device', wholeNumber('--jobs-per-gpu', 1))
    .option('-k, --keep-going', 'after a failure, keep running stages that do not depend on it')
    .addOption(storeOption())
    .action(async (file: string | undefined, o) => {
      const m = await impl();
      const gpus = await m.detectGpus({ flag: o.gpus });
      const display = m.createRunDisplay(o.json ? 'json' : process.stdout.isTTY ? 'tty' : 'plain', process.stdout);
      const notes: string[] = [];
      const ac = new AbortController();
      const onSig = () => {
        if (ac.signal.aborted) process.exit(130);
        if (!o.json) process.stderr.write('\nfisherflow: interrupted; stopping running stages (Ctrl-C again to force)\n');
        ac.abort();
      };
      process.on('SIGINT', onSig);
      process.on('SIGTERM', onSig);
      try {
        const r = await m.runExperiment(file, {
          set: o.set,
          paramsFile: o.params,
          store: o.store,
          name: o.name,
          replace: Boolean(o.force),
          jobs: o.jobs,
          gpus: gpus.devices,
          jobsPerGpu: o.jobsPerGpu,
          keepGoing: o.keepGoing,
          signal: ac.signal,
          emit: display.handle,
          note: (m) => notes.push(m),
        });
        display.close();
        const stages = r.result.stages.map((s) => ({ name: s.name, status: s.status, key: s.key, seconds: Math.round(s.seconds * 1000) / 1000, ...(s.error ? { error: s.error } : {}) }));
        if (o.json) {
          out(`${JSON.stringify({ experiment: r.name, recorded: Boolean(r.record), set: o.set, metrics: r.record?.metrics ?? {}, notes, stages })}\n`);
        } else {
          for (const n of notes) out(`note    ${n}\n`);
          if (r.record) {
            out(`experiment ${r.name} recorded${o.set.length ? ` (${o.set.join(', ')})` : ''}\n`);
            for (const [f, values] of Object.entries(r.record.metrics)) for (const [k, v] of Object.entries(values)) out(`  ${k === '' ? f : `${f}:${k}`} = ${m.formatValue(v)}\n`);
          } else out(`experiment ${r.name} not recorded: the run did not complete\n`);
        }
        process.exitCode = r.result.interrupted ? 130 : r.record ? 0 : 1;
      } finally {
        process.off('SIGINT', onSig);
        process.off('SIGTERM', onSig);
      }
    });

  exp
    .command('show')
    .argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)')
    .description('a table of the working tree, the commits of the current branch and the experiments, with params and metrics')
    .option('--json', 'machine-readable output')
    .option('--csv', 'CSV with every param and metric as a column')
    .option('-n, --limit <n>', 'how many commits of the current branch to list', wholeNumber('--limit', 0), 10)
    .option('--all-params', 'also show params that are equal in every row')
    .addOption(metricOption())
    .addOption(storeOption())
    .addOption(precisionOption())
    .action(async (file: string | undefined, o) => {
      const m = await impl();
      if (o.json && o.csv) throw new UserError('exp show: choose one of --json and --csv');
      const t = await m.collectShowTable(file ?? defaultPipelineFile(), { limit: o.limit, store: o.store });
      const pick = metricFilter(o.metric);
      for (const r of t.rows) {
        for (const [f, values] of Object.entries(r.metrics)) {
          const kept = Object.fromEntries(Object.entries(values).filter(([k]) => pick(f, k)));
          if (Object.keys(kept).length) r.metrics[f] = kept;
          else delete r.metrics[f];
        }
      }
      if (o.json) out(`${JSON.stringify(t, null, 2)}\n`);
      else if (o.csv) out(m.renderShowCsv(t));
      else out(m.renderShowText(t, { allParams: o.allParams, precision: o.precision }));
    });

  exp
    .command('apply')
    .argument('<name>', 'experiment name')
    .argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)')
    .description("write an experiment's params into the pipeline's `params:` (comments and layout kept)")
    .action(async (name: string, file: string | undefined) => {
      const m = await impl();
      const r = m.applyExperiment(file, name);
      const label = relative(process.cwd(), r.pipelineFile) || r.pipelineFile;
      if (!r.changes.length) {
        out(`${label} already has the params of experiment ${name}\n`);
        return;
      }
      for (const c of r.changes) out(`${c.key}: ${m.formatValue(c.old)} → ${m.formatValue(c.new)}${c.added ? ' (not declared by the current pipeline; added)' : ''}\n`);
      out(`wrote ${label}; 'fisherflow run' takes the experiment's results from the cache where its stages are unchanged\n`);
    });

  exp
    .command('remove')
    .alias('rm')
    .argument('<names...>', 'experiment names')
    .option('-p, --pipeline <file>', 'pipeline file (default: ./fisherflow.yaml)')
    .description("delete experiments (their results stay in the store until 'fisherflow gc')")
    .action(async (names: string[], o) => {
      const m = await impl();
      const file = o.pipeline ? resolve(o.pipeline) : defaultPipelineFile();
      const root = projectRoot(dirname(file));
      const rel = relative(root, file).split('\\').join('/');
      for (const n of names) {
        m.removeExperiment(root, n, rel);
        out(`removed experiment ${n}\n`);
      }
    });
}
