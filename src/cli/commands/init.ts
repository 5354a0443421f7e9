// `fisherflow init`: start something new from a template in the package's `templates/` folder.
// One command, one option per mode, each mode one function below: `--stage NAME` scaffolds a
// stage package (TypeScript, its schema, a test with `fisherflow/testing`). Other modes (an empty
// project, `--example NAME`) slot in beside it as further options and functions.
import type { Command } from 'commander';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { UserError } from '../../errors.js';
import { STAGE_API_VERSION } from '../../stage/api.js';
import { PACKAGE_ROOT, StageRegistry } from '../../stage/registry.js';
import { packageVersion } from '../../run/snapshot.js';
import { out } from '../options.js';

export interface InitOptions {
  /** Scaffold a stage package for this stage type. */
  stage?: string;
  /** Where to create it (default depends on the mode). */
  dir?: string;
}

export function register(program: Command): void {
  program
    .command('init')
    .description('start something new: a stage package (--stage NAME)')
    .option('--stage <name>', 'scaffold a stage package for stage type NAME: TypeScript, its input schema, a test')
    .option('--dir <folder>', 'where to create it (default for --stage: ./fisherflow-stage-NAME)')
    .action(async (o: InitOptions) => {
      out(initCommand(o));
    });
}

/** Runs the mode the options choose; returns what to print. */
export function initCommand(o: InitOptions, cwd = process.cwd()): string {
  if (o.stage !== undefined) return initStagePackage(o.stage, { dir: o.dir, cwd }).message;
  throw new UserError('init: say what to create: --stage NAME (a stage package)');
}

export const TEMPLATES_DIR = join(PACKAGE_ROOT, 'templates');

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
    '  # in your project, if it has not got them yet:',
    '  npm install --save-dev fisherflow typescript @types/node',
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
