// `fisherflow plots show|diff`: the plots stages declare (`plots:`), drawn into one self-contained
// HTML page — the working tree's, or several revisions and experiments overlaid. vega loads only
// here (through src/plots/page.ts), never in `status` or `run`.
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { UserError } from '../../errors.js';
import { defaultPipelineFile } from '../../plan/workspace.js';
import { examples, hiddenPipelineOption, out, splitPipelineArg, storeOption } from '../options.js';

interface PlotsOptions {
  out?: string;
  open?: boolean;
  json?: boolean;
  store?: string;
  pipeline?: string;
}

export function register(program: Command): void {
  const plots = program
    .command('plots')
    .description('draw the plots stages declare (`plots:`) into a self-contained HTML page')
    .addHelpText('after', examples(['fisherflow plots show --open', 'fisherflow plots diff HEAD~1         # HEAD~1 vs the working tree, overlaid', 'fisherflow plots diff main small big  # a commit and two experiments']));
  const common = (c: Command) =>
    c
      .option('-o, --out <file>', 'the HTML page to write (default: .fisherflow/plots/<show|diff>.html at the project root)')
      .option('--open', 'open the page in a browser ($BROWSER, else the desktop default)')
      .option('--json', 'print what was drawn as JSON instead of a summary')
      .addOption(storeOption());
  common(plots.command('show').argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)').description("the working tree's plots"))
    .addHelpText('after', examples(['fisherflow plots show', 'fisherflow plots show pipelines/demo.yaml -o plots.html --open']))
    .action((file: string | undefined, o: PlotsOptions) => plotsCommand(file, ['workspace'], o));
  common(
    plots
      .command('diff')
      .argument('[revisions...]', "git revisions or experiment names, and 'workspace' for the working tree (default: HEAD workspace; one revision: it and the workspace); the pipeline file last")
      .addOption(hiddenPipelineOption())
      .description('the plots of several revisions and experiments, overlaid'),
  )
    .addHelpText('after', examples(['fisherflow plots diff', 'fisherflow plots diff HEAD~2 HEAD workspace', 'fisherflow plots diff main small pipelines/demo.yaml']))
    .action((args: string[], o: PlotsOptions) => {
      const { pipeline, rest: revs } = splitPipelineArg(args, o.pipeline);
      return plotsCommand(pipeline, revs.length === 0 ? ['HEAD', 'workspace'] : revs.length === 1 ? [revs[0], 'workspace'] : revs, o, 'diff');
    });
}

export async function plotsCommand(file: string | undefined, sides: string[], o: PlotsOptions, what: 'show' | 'diff' = 'show'): Promise<void> {
  const [{ openWorkspace }, { currentResults, pipelineContext, readRevision }, { readBlobBytes }, { collectPlots, declaredPlots }, { renderPlotsPage }] = await Promise.all([
    import('../../plan/workspace.js'),
    import('../../experiments/revision.js'),
    import('../../experiments/git.js'),
    import('../../plots/collect.js'),
    import('../../plots/page.js'),
  ]);
  const pipelineFile = resolve(file ?? defaultPipelineFile());
  const ws = await openWorkspace(pipelineFile, { store: o.store });
  const plots = declaredPlots(ws);
  const loaded = sides.map((label) => {
    if (label === 'workspace') return { label, lock: currentResults(ws).lock, workspaceDir: ws.pipeline.dir };
    const ctx = pipelineContext(pipelineFile, "'fisherflow plots diff'", o.store);
    const rev = readRevision(ctx, label);
    const sha = rev.commit?.sha;
    const fallback = sha ? (path: string) => readBlobBytes(ctx.repo, `${sha}:${ctx.dirPath ? `${ctx.dirPath}/` : ''}${path}`) : undefined;
    return { label, lock: rev.lock, fallback };
  });
  const data = collectPlots(ws.store, plots, loaded);
  const title = what === 'show' ? `Plots — ${ws.label}` : `Plots — ${sides.join(' vs ')}`;
  const page = await renderPlotsPage(title, `fisherflow plots ${what} ${what === 'diff' ? sides.join(' ') : ''}`.trim(), data);
  const dest = resolve(o.out ?? join(ws.root, '.fisherflow', 'plots', `${what}.html`));
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, page.html);
  const shown = relative(process.cwd(), dest).startsWith('..') ? dest : relative(process.cwd(), dest);
  if (o.json) {
    out(`${JSON.stringify({ page: dest, plots: data.map((d) => ({ file: d.plot.label, stage: d.plot.stage, template: d.plot.spec.template, sides: d.sources.map((s) => s.label), missing: d.missing })), notes: page.notes }, null, 2)}\n`);
  } else {
    for (const n of page.notes) out(`note: ${n}\n`);
    out(`wrote ${shown} (${page.drawn} of ${plots.length} plot${plots.length === 1 ? '' : 's'} drawn)\n`);
  }
  if (o.open) openInBrowser(dest);
}

/** $BROWSER, else the platform's opener; detached, so the command returns at once. */
function openInBrowser(path: string): void {
  const opener = process.env.BROWSER || (process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'start' : 'xdg-open');
  try {
    const child = spawn(opener, [path], { detached: true, stdio: 'ignore', shell: process.platform === 'win32' });
    child.on('error', () => process.stderr.write(`fisherflow: could not start '${opener}' to open ${path}; open it yourself\n`));
    child.unref();
  } catch {
    throw new UserError(`could not start '${opener}' to open ${path}`);
  }
}
