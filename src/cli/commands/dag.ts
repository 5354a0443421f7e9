// `fisherflow dag`: the stage graph as text, Mermaid, Graphviz dot or JSON.
import { Option, type Command } from 'commander';
import { openWorkspace } from '../../plan/workspace.js';
import type { DagFormat } from '../../graph/render.js';
import { addPipelineOptions, examples, out, workspaceOptions } from '../options.js';

export function register(program: Command): void {
  addPipelineOptions(program.command('dag').argument('[pipeline]', 'pipeline file (default: ./fisherflow.yaml)'))
    .description('print the stage graph')
    .addOption(new Option('--format <format>', 'output format').choices(['mermaid', 'dot', 'json', 'text']).default('text'))
    .addHelpText('after', examples(['fisherflow dag', 'fisherflow dag --format mermaid', 'fisherflow dag pipelines/demo.yaml --format dot | dot -Tsvg > dag.svg']))
    .action(async (file: string | undefined, o: { set: string[]; params?: string; store?: string; format: DagFormat }) => {
      const { renderDag } = await import('../../graph/render.js');
      const ws = await openWorkspace(file, workspaceOptions(o));
      out(`${renderDag(ws.pipeline, ws.dag, o.format)}\n`);
    });
}
