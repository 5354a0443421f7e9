// `fisherflow stages [PIPELINE]`: the stage types there are, where each comes from (built-in,
// FISHERFLOW_STAGES_PATH, or a stage package the pipeline names in `plugins:`), with their inputs.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { StageRegistry, describeSource, type StageSource } from '../../stage/registry.js';
import { resolvePlugins, type StagePlugin } from '../../stage/plugins.js';
import { UserError } from '../../errors.js';
import { table } from '../format.js';
import { examples, out } from '../options.js';

export function register(program: Command): void {
  program
    .command('stages')
    .argument('[pipeline]', "a pipeline whose `plugins:` to include (default: ./fisherflow.yaml if there is one)")
    .description('list the stage types (built-in and from plugins) and where each comes from')
    .option('--json', 'with their sources, input schemas and outputs')
    .option('--markdown', 'the reference tables the README embeds')
    .addHelpText('after', examples(['fisherflow stages', 'fisherflow stages pipelines/demo.yaml --json']))
    .action(async (file: string | undefined, o: { json?: boolean; markdown?: boolean }) => {
      const reg = StageRegistry.fromEnvironment();
      const pipeline = file ?? ['fisherflow.yaml', 'fisherflow.yml'].find((f) => existsSync(join(process.cwd(), f)));
      if (pipeline) reg.addPlugins(await pipelinePlugins(pipeline));
      if (o.markdown) {
        const { stageReference } = await import('../stage-reference.js');
        out(`${await stageReference(reg)}\n`);
        return;
      }
      const rows: string[][] = [];
      const list: unknown[] = [];
      for (const t of reg.types()) {
        const m = await reg.load(t);
        const { source } = reg.entry(t);
        rows.push([t, describeSource(source), m.description]);
        list.push({ type: t, source: sourceJson(source), modulePath: reg.entry(t).modulePath, description: m.description, inputSchema: m.inputSchema, worker: Boolean(m.worker), resources: m.resources ?? {} });
      }
      out(o.json ? `${JSON.stringify(list, null, 2)}\n` : `${table(rows, ['type', 'from', 'description'])}\n`);
    });
}

function sourceJson(source: StageSource): Record<string, unknown> {
  if (source.kind !== 'plugin') return { ...source };
  const p = source.plugin;
  return { kind: 'plugin', plugin: p.spec, dir: relative(process.cwd(), p.dir) || '.', name: p.name, version: p.version };
}

/**
 * The stage packages a pipeline file names, read without loading its stages (for `fisherflow
 * stages`, which must list types even while the pipeline's stages are being written).
 */
async function pipelinePlugins(file: string): Promise<StagePlugin[]> {
  const { readSourceDocument } = await import('../../pipeline/source.js');
  const source = readSourceDocument(resolve(file), file);
  const plugins = (source.value as { plugins?: unknown } | null)?.plugins;
  if (plugins === undefined || plugins === null) return [];
  if (!Array.isArray(plugins) || plugins.some((p) => typeof p !== 'string' || p === '')) {
    throw new UserError('plugins must be a list of package names or folder paths', source.locate(['plugins']));
  }
  return resolvePlugins(plugins as string[], dirname(resolve(file)), (i) => source.locate(['plugins', i]));
}
