// `fisherflow exp run|show|apply|remove`: experiments — runs with overridden params, recorded
// beside the lock file (.fisherflow/experiments/NAME) and compared with commits.
import type { Command } from 'commander';
import { dirname, relative, resolve } from 'node:path';
import { UserError } from '../../errors.js';
import { defaultPipelineFile, projectRoot } from '../../plan/workspace.js';
import { metricFilter } from '../../metrics/filter.js';
import { addRunOptions, collect, examples, hiddenPipelineOption, metricOption, out, precisionOption, splitPipelineArg, storeOption, wholeNumber } from '../options.js';
import { onInterrupt } from '../interrupt.js';

export function register(program: Command): void {
  const exp = program
    .command('exp')
    .description('experiments: runs with overridden params, recorded beside the lock file and compared with commits')
    .addHelpText('after', examples(['fisherflow exp run --set lr=3e-5 --name lr3', 'fisherflow exp show', 'fisherflow diff HEAD lr3', 'fisherflow exp apply lr3']));

  addRunOptions(
    exp
      .command('run')
      .argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)')
      .description('run the pipeline with overridden params without editing the YAML or its lock file; record the result as an experiment')
      .option('--set <key=value>', 'override a param (repeatable, dotted keys)', collect, [])
      .option('--params <file>', 'a YAML file of param overrides')
      .option('-n, --name <name>', 'experiment name (default: exp-N)')
      .option('-f, --force', 'replace an existing experiment of that name'),
  )
    .addOption(storeOption())
    .addHelpText('after', examples(['fisherflow exp run --set lr=3e-5 --name lr3', 'fisherflow exp run pipelines/demo.yaml --set train.epochs=6', 'fisherflow exp run --params sweep/big.yaml -n big']))
    .action(expRun);

  exp
    .command('show')
    .argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)')
    .description('a table of the working tree, the commits of the current branch and the experiments, with params and metrics')
    .option('--json', 'machine-readable output')
    .option('--csv', 'CSV with every param and metric as a column')
    .option('-n, --limit <n>', 'how many commits of the current branch to list', wholeNumber('--limit', 0), 10)
    .option('--all-params', 'also show params that are equal in every row')
    .option('--all', 'every param and every metric: also values inside lists (loss curves, per-epoch rows) and text fields')
    .addOption(metricOption())
    .addOption(storeOption())
    .addOption(precisionOption())
    .addHelpText('after', examples(['fisherflow exp show', 'fisherflow exp show --all            # every param, every metric (curves too)', "fisherflow exp show --metric 'final.*'", 'fisherflow exp show --csv > runs.csv']))
    .action(expShow);

  exp
    .command('apply')
    .argument('<name>', 'experiment name')
    .argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)')
    .description("write an experiment's params into the pipeline's `params:` (comments and layout kept)")
    .addHelpText('after', examples(['fisherflow exp apply lr3 && fisherflow run   # the results come from the cache']))
    .action(expApply);

  exp
    .command('remove')
    .alias('rm')
    .argument('<names...>', 'experiment names, then optionally the pipeline file (ending in .yaml)')
    .addOption(hiddenPipelineOption())
    .description("delete experiments (their results stay in the store until 'fisherflow gc')")
    .addHelpText('after', examples(['fisherflow exp remove lr3 small', 'fisherflow exp remove lr3 pipelines/demo.yaml']))
    .action((args: string[], o: { pipeline?: string }) => {
      const { pipeline, rest } = splitPipelineArg(args, o.pipeline);
      if (!rest.length) throw new UserError('exp remove: name the experiments to remove');
      return expRemove(rest, { pipeline });
    });
}

export async function expRun(
  file: string | undefined,
  o: { set: string[]; params?: string; name?: string; force?: boolean; json?: boolean; jobs?: number; gpus?: string; jobsPerGpu?: number; keepGoing?: boolean; store?: string; executor?: string },
): Promise<void> {
  const [{ detectGpus }, { createRunDisplay }, { runExperiment }, { formatValue }, { executorSettings }] = await Promise.all([
    import('../../schedule/devices.js'),
    import('../display.js'),
    import('../../experiments/run-experiment.js'),
    import('../../experiments/diff.js'),
    import('../../run/executors.js'),
  ]);
  const executors = executorSettings(projectRoot(dirname(resolve(file ?? defaultPipelineFile()))), o);
  const gpus = await detectGpus({ flag: o.gpus });
  const display = createRunDisplay(o.json ? 'json' : process.stdout.isTTY ? 'tty' : 'plain', process.stdout);
  const notes: string[] = [];
  const interrupt = onInterrupt({ quiet: o.json });
  try {
    const r = await runExperiment(file, {
      set: o.set,
      paramsFile: o.params,
      store: o.store,
      name: o.name,
      replace: Boolean(o.force),
      jobs: executors.jobs,
      executors,
      gpus: gpus.devices,
      jobsPerGpu: o.jobsPerGpu,
      keepGoing: o.keepGoing,
      signal: interrupt.signal,
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
        for (const [f, values] of Object.entries(r.record.metrics)) for (const [k, v] of Object.entries(values)) out(`  ${k === '' ? f : `${f}:${k}`} = ${formatValue(v)}\n`);
      } else out(`experiment ${r.name} not recorded: the run did not complete\n`);
    }
    process.exitCode = r.result.interrupted ? 130 : r.record ? 0 : 1;
  } finally {
    display.close(); // also when the run threw (a full disk): no progress timer keeps the process alive
    interrupt.dispose();
  }
}

export async function expShow(file: string | undefined, o: { json?: boolean; csv?: boolean; limit: number; allParams?: boolean; all?: boolean; metric: string[]; store?: string; precision: number }): Promise<void> {
  const { collectShowTable, renderShowCsv, renderShowText } = await import('../../experiments/show.js');
  if (o.json && o.csv) throw new UserError('exp show: choose one of --json and --csv');
  const t = await collectShowTable(file ?? defaultPipelineFile(), { limit: o.limit, store: o.store });
  const pick = metricFilter(o.metric);
  for (const r of t.rows) {
    for (const [f, values] of Object.entries(r.metrics)) {
      const kept = Object.fromEntries(Object.entries(values).filter(([k]) => pick(f, k)));
      if (Object.keys(kept).length) r.metrics[f] = kept;
      else delete r.metrics[f];
    }
  }
  if (o.json) out(`${JSON.stringify(t, null, 2)}\n`);
  else if (o.csv) out(renderShowCsv(t));
  else out(renderShowText(t, { allParams: o.allParams || o.all, allMetrics: o.all, precision: o.precision }));
}

export async function expApply(name: string, file: string | undefined): Promise<void> {
  const [{ applyExperiment }, { formatValue }] = await Promise.all([import('../../experiments/apply.js'), import('../../experiments/diff.js')]);
  const r = applyExperiment(file, name);
  const label = relative(process.cwd(), r.pipelineFile) || r.pipelineFile;
  if (!r.changes.length) {
    out(`${label} already has the params of experiment ${name}\n`);
    return;
  }
  for (const c of r.changes) out(`${c.key}${c.file ? ` (${c.file})` : ''}: ${formatValue(c.old)} → ${formatValue(c.new)}${c.added ? ' (not declared by the current pipeline; added)' : ''}\n`);
  out(`wrote ${label}; 'fisherflow run' takes the experiment's results from the cache where its stages are unchanged\n`);
}

export async function expRemove(names: string[], o: { pipeline?: string }): Promise<void> {
  const { removeExperiment } = await import('../../experiments/records.js');
  const file = o.pipeline ? resolve(o.pipeline) : defaultPipelineFile();
  const root = projectRoot(dirname(file));
  const rel = relative(root, file).split('\\').join('/');
  for (const n of names) {
    removeExperiment(root, n, rel);
    out(`removed experiment ${n}\n`);
  }
}
