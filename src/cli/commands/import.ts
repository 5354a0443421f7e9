// `fisherflow import dvc [dvc.yaml]`: write the equivalent fisherflow.yaml beside a dvc.yaml and
// say what could not be carried over. Never overwrites a file without --force.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { UserError } from '../../errors.js';
import { examples, out } from '../options.js';

export function register(program: Command): void {
  const imp = program
    .command('import')
    .description('convert another tool\'s pipeline into a fisherflow.yaml')
    .addHelpText('after', examples(['fisherflow import dvc', 'fisherflow import dvc path/to/dvc.yaml -o path/to/fisherflow.yaml']));
  imp
    .command('dvc')
    .argument('[dvc_yaml]', 'the DVC pipeline (default: ./dvc.yaml)')
    .option('-o, --out <file>', 'the fisherflow pipeline to write (default: fisherflow.yaml beside the dvc.yaml)')
    .option('-f, --force', 'overwrite the output file if it exists')
    .description('write the equivalent fisherflow.yaml of a dvc.yaml (params, foreach/matrix, ${} → ${{ }}, anchors expanded) and report what it could not carry over')
    .addHelpText('after', examples(['fisherflow import dvc                # ./dvc.yaml → ./fisherflow.yaml', 'fisherflow import dvc --force        # replace an earlier conversion', 'fisherflow import dvc sub/dvc.yaml -o sub/pipeline.yaml']))
    .action(importDvc);
}

export async function importDvc(file: string | undefined, o: { out?: string; force?: boolean }): Promise<void> {
  const [{ convertDvc }, { yamlLibrary }, { writeYamlText }, { packageVersion }] = await Promise.all([
    import('../../import/dvc.js'),
    import('../../pipeline/source.js'),
    import('../../pipeline/yaml-edit.js'),
    import('../../package-root.js'),
  ]);
  const src = resolve(file ?? 'dvc.yaml');
  if (!existsSync(src)) throw new UserError(`file not found: ${file ?? 'dvc.yaml'}`, undefined, file ? undefined : 'name the dvc.yaml to convert');
  const dest = resolve(o.out ?? join(dirname(src), 'fisherflow.yaml'));
  const shown = (p: string) => relative(process.cwd(), p) || p;
  if (existsSync(dest) && !o.force) throw new UserError(`${shown(dest)} exists; not overwriting it`, undefined, 'pass --force to replace it, or -o to write elsewhere');
  const { pipeline, notes } = convertDvc(src);
  const header = [
    `# Converted from ${basename(src)} by \`fisherflow import dvc\` (fisherflow ${packageVersion()}).`,
    ...(notes.length ? ['# Not carried over, or carried over differently:', ...notes.map((n) => `#   - ${n.replace(/\n/g, ' ')}`)] : []),
  ];
  const text = `${header.join('\n')}\n${yamlLibrary().stringify(pipeline, { lineWidth: 0, aliasDuplicateObjects: false })}`;
  writeYamlText(dest, text);
  for (const n of notes) out(`note: ${n}\n`);
  out(`wrote ${shown(dest)} (${Object.keys(pipeline.stages as object).length} stages from ${shown(src)}); check it with 'fisherflow status ${shown(dest)}'\n`);
}
