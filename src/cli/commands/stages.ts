// `fisherflow stages`: the stage types there are, with their inputs.
import type { Command } from 'commander';
import { StageRegistry } from '../../stage/registry.js';
import { table } from '../format.js';
import { out } from '../options.js';

export function register(program: Command): void {
  program
    .command('stages')
    .description('list the built-in stage types')
    .option('--json', 'with their input schemas and outputs')
    .option('--markdown', 'the reference tables the README embeds')
    .action(async (o: { json?: boolean; markdown?: boolean }) => {
      const reg = StageRegistry.fromEnvironment();
      if (o.markdown) {
        const { stageReference } = await import('../stage-reference.js');
        out(`${await stageReference(reg)}\n`);
        return;
      }
      const rows: string[][] = [];
      const list: unknown[] = [];
      for (const t of reg.types()) {
        const m = await reg.load(t);
        rows.push([t, m.description]);
        list.push({ type: t, description: m.description, inputSchema: m.inputSchema, worker: Boolean(m.worker), resources: m.resources ?? {} });
      }
      out(o.json ? `${JSON.stringify(list, null, 2)}\n` : `${table(rows)}\n`);
    });
}
