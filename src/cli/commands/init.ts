// `fisherflow init`: start something new from a template in the package's `templates/` folder.
// One command, one option per mode, each mode one function below: no option makes a project (a
// fisherflow.yaml with the schema comment and a params block, .gitignore lines); `--example NAME`
// makes an example's project, its data included from the package (`tour`: the README's tour);
// `--stage NAME` scaffolds a stage package (TypeScript, its schema, a test with
// `fisherflow/testing`). None of them overwrites a file.
import type { Command } from 'commander';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { UserError } from '../../errors.js';
import { STAGE_API_VERSION } from '../../stage/api.js';
import { PACKAGE_ROOT, StageRegistry } from '../../stage/registry.js';
import { packageVersion } from '../../run/snapshot.js';
import { addGitignoreLines } from '../../run/gitignore.js';
import { didYouMean } from '../../pipeline/errors.js';
import { examples, out } from '../options.js';

export interface InitOptions {
  /** Scaffold a stage package for this stage type. */
  stage?: string;
  /** Make this example's project (see EXAMPLES). */
  example?: string;
  /** Where to create it (default depends on the mode). */
  dir?: string;
}

export function register(program: Command): void {
  program
    .command('init')
    .description('start something new: a project (no option), an example project (--example tour) or a stage package (--stage NAME); never overwrites files')
    .option('--example <name>', `an example's project with its data: ${'tour'} (the README's tour)`)
    .option('--stage <name>', 'scaffold a stage package for stage type NAME: TypeScript, its input schema, a test')
    .option('--dir <folder>', 'where to create it (default: the current folder; for --stage: ./fisherflow-stage-NAME)')
    .addHelpText('after', examples(['fisherflow init                      # fisherflow.yaml and .gitignore lines in this folder', 'fisherflow init --example tour       # the README\'s tour, with data/dev.tsv', 'fisherflow init --stage label-balance']))
    .action(async (o: InitOptions) => {
      out(initCommand(o));
    });
}

/** Runs the mode the options choose; returns what to print. */
export function initCommand(o: InitOptions, cwd = process.cwd()): string {
  if (o.stage !== undefined && o.example !== undefined) throw new UserError('init: choose one of --stage NAME (a stage package) and --example NAME (an example project)');
  if (o.stage !== undefined) return initStagePackage(o.stage, { dir: o.dir, cwd }).message;
  return initProject({ example: o.example, dir: o.dir, cwd }).message;
}

export const TEMPLATES_DIR = join(PACKAGE_ROOT, 'templates');

/** Example projects: their pipeline template and the package files they copy (target → source). */
const EXAMPLES: Record<string, { template: string; files: Record<string, string>; next: Array<[string, string]> }> = {
  tour: {
    template: join(TEMPLATES_DIR, 'tour', 'fisherflow.yaml'),
    files: { 'data/dev.tsv': join(PACKAGE_ROOT, 'data', 'sst2', 'dev.tsv') },
    next: [['fisherflow run', 'runs dev, reversed@st, reversed@op, count'], ['fisherflow status --set take=100', 'what would rerun, and why'], ['', '... the rest of the tour in the README']],
  },
};

/** The schema line's target: the project's own install if it has one, else this package's file. */
function schemaReference(dir: string): string {
  const local = join(dir, 'node_modules', 'fisherflow', 'schema', 'fisherflow.schema.json');
  return existsSync(local) ? './node_modules/fisherflow/schema/fisherflow.schema.json' : join(PACKAGE_ROOT, 'schema', 'fisherflow.schema.json');
}

/** The pipeline of a new project (`example` undefined) or of an example, with the schema line filled in for `dir`. */
export function projectPipeline(dir: string, example?: string): string {
  const template = example === undefined ? join(TEMPLATES_DIR, 'project', 'fisherflow.yaml') : EXAMPLES[example].template;
  return readFileSync(template, 'utf8').replace('__SCHEMA__', schemaReference(dir));
}

/** A project in `dir` (default: the current folder): fisherflow.yaml, the example's data, .gitignore lines. */
export function initProject(opts: { example?: string; dir?: string; cwd?: string } = {}): { dir: string; files: string[]; message: string } {
  const cwd = opts.cwd ?? process.cwd();
  const example = opts.example === undefined ? undefined : EXAMPLES[opts.example];
  if (opts.example !== undefined && !example) {
    throw new UserError(`init --example '${opts.example}': no such example${didYouMean(opts.example, Object.keys(EXAMPLES))}; the examples: ${Object.keys(EXAMPLES).join(', ')}`);
  }
  const dir = resolve(cwd, opts.dir ?? '.');
  const files: Record<string, string | { copy: string }> = { 'fisherflow.yaml': projectPipeline(dir, opts.example) };
  for (const [to, from] of Object.entries(example?.files ?? {})) files[to] = { copy: from };
  const taken = Object.keys(files).filter((f) => existsSync(join(dir, f)));
  if (taken.length) throw new UserError(`init: ${taken.join(', ')} already exist${taken.length === 1 ? 's' : ''} in ${relative(cwd, dir) || '.'}; fisherflow init never overwrites files (choose --dir, or move ${taken.length === 1 ? 'it' : 'them'})`);
  for (const [to, what] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, to)), { recursive: true });
    if (typeof what === 'string') writeFileSync(join(dir, to), what, { flag: 'wx' });
    else copyFileSync(what.copy, join(dir, to));
  }
  const ignored = addGitignoreLines(dir, ['/artifacts/', '/.fisherflow/', '/node_modules/']);
  const at = relative(cwd, dir);
  const inGit = (() => {
    for (let d = dir; ; d = dirname(d)) {
      if (existsSync(join(d, '.git'))) return true;
      if (dirname(d) === d) return false;
    }
  })();
  const message = [
    `Created ${Object.keys(files).map((f) => (at ? join(at, f) : f)).join(', ')}${ignored.length ? `; .gitignore: ${ignored.join(' ')}` : ''}`,
    'Next:',
    ...([
      ...(at ? [[`cd ${at}`, '']] : []),
      ...(inGit ? [] : [['git init', 'fisherflow.lock goes into git with the pipeline']]),
      ...(example ? example.next : [['fisherflow run', 'runs hello; run it again: cached'], ['fisherflow stages', 'the built-in stage types']]),
    ] as Array<[string, string]>).map(([cmd, why]) => `  ${why ? `${cmd.padEnd(34)}# ${why}` : cmd}`),
    '',
  ].join('\n');
  return { dir, files: Object.keys(files), message };
}

/** A stage type: what `uses:` names, a folder name and part of a package name. */
const STAGE_TYPE = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** Scaffold `templates/stage` as a stage package for type `name`. Never overwrites anything. */
export function initStagePackage(name: string, opts: { dir?: string; cwd?: string } = {}): { dir: string; files: string[]; message: string } {
  if (!STAGE_TYPE.test(name)) {
    throw new UserError(`init --stage '${name}': a stage type is lower-case letters and digits, words joined by '-' (e.g. label-balance)`);
  }
  if (StageRegistry.fromEnvironment({}).has(name)) {
    throw new UserError(`init --stage '${name}': '${name}' is a built-in stage type; a package cannot define it too (choose another name)`);
  }
  const cwd = opts.cwd ?? process.cwd();
  const dir = resolve(cwd, opts.dir ?? `fisherflow-stage-${name}`);
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    throw new UserError(`init --stage: ${relative(cwd, dir) || dir} already exists and is not an empty folder; fisherflow init never overwrites files (choose --dir, or remove it)`);
  }
  const vars: Record<string, string> = { __NAME__: name, __FISHERFLOW_VERSION__: packageVersion(), __STAGE_API_VERSION__: String(STAGE_API_VERSION) };
  const fill = (text: string) => text.replace(/__[A-Z_]+__/g, (k) => vars[k] ?? k);
  // Written into a temporary sibling and renamed into place: never a half-made package.
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = mkdtempSync(join(dirname(dir), '.fisherflow-init-'));
  const files: string[] = [];
  try {
    const copy = (from: string, to: string) => {
      for (const entry of readdirSync(from).sort()) {
        const src = join(from, entry);
        // npm drops files named .gitignore from packages, so the template names it gitignore.
        const target = join(to, entry === 'gitignore' ? '.gitignore' : fill(entry));
        if (statSync(src).isDirectory()) {
          mkdirSync(target);
          copy(src, target);
        } else {
          writeFileSync(target, fill(readFileSync(src, 'utf8')));
          files.push(relative(tmp, target));
        }
      }
    };
    copy(join(TEMPLATES_DIR, 'stage'), tmp);
    if (existsSync(dir)) rmSync(dir, { recursive: true }); // the empty folder checked above
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const rel = relative(cwd, dir) || '.';
  const pathSpec = rel.startsWith('.') || rel.startsWith('/') ? rel : `./${rel}`;
  const message = [
    `Created ${rel}/, a stage package for stage type '${name}':`,
    `  ${join('stages', name, 'stage.ts').padEnd(32)} the stage: its inputs' schema, outputs and run()`,
    `  ${join('test', `${name}.test.ts`).padEnd(32)} a test that runs it in a temporary folder (fisherflow/testing)`,
    '  package.json, tsconfig.json, README.md, .gitignore',
    'Next:',
    '  # in your project (fisherflow installed as its README says), if it has not got them yet:',
    '  npm install --save-dev typescript @types/node',
    '  # build it into dist/ and run its test:',
    `  (cd ${rel} && npm test)`,
    '  # then use it in fisherflow.yaml:',
    `  plugins: [${pathSpec}]`,
    '  stages:',
    `    ${name}:`,
    `      uses: ${name}`,
    '      with: { data: data.jsonl }',
    '',
  ].join('\n');
  return { dir, files: files.sort(), message };
}
