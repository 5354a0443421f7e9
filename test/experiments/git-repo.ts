// A temporary real git repository holding a small pipeline of command stages (fast, no ML).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, workspace, type CliResult } from '../helpers/cli.js';

// Isolated from the machine's git configuration, with a fixed identity.
export const GIT_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@t',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@t',
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' });
}

/** `acc` and `loss` depend on params x and y; `report` reads a second param. x=fail makes `train` fail. */
export const PIPELINE = `# experiment pipeline
params:
  x: 1    # the knob
  y: 10
  opt: {lr: 0.5}
stages:
  train:
    run: "[ \${{ params.x }} != fail ] && printf '{\\"acc\\": %s, \\"nested\\": {\\"loss\\": [%s, 0.25]}}' \${{ params.x }} \${{ params.opt.lr }} > m.json"
    metrics: [m.json]
  report:
    run: "printf 'size: %s\\n' \${{ params.y }} > r.yaml"
    metrics: [r.yaml]
`;

const created: string[] = [];

/** A temporary folder with these files, removed by `removeTemporaryFolders`. */
export function tempDir(files: Record<string, string>): string {
  const dir = workspace(files);
  created.push(dir);
  return dir;
}

export function removeTemporaryFolders(): void {
  for (const d of created.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function repo(files: Record<string, string> = {}): string {
  const dir = tempDir({ 'fisherflow.yaml': PIPELINE, '.gitignore': 'artifacts/\n.fisherflow/\nm.json\nr.yaml\n', ...files });
  git(dir, 'init', '-q', '-b', 'main');
  return dir;
}

export function commit(dir: string, message: string): string {
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
  return git(dir, 'rev-parse', 'HEAD').trim();
}

export function setParam(dir: string, from: string, to: string): void {
  const p = join(dir, 'fisherflow.yaml');
  const text = readFileSync(p, 'utf8');
  if (!text.includes(from)) throw new Error(`'${from}' not in the pipeline`);
  writeFileSync(p, text.replace(from, to));
}

export function ff(dir: string, ...args: string[]): CliResult {
  return cli(args, { cwd: dir, env: GIT_ENV });
}

/** Run the CLI, fail with its output unless it exits 0. */
export function ok(dir: string, ...args: string[]): string {
  const r = ff(dir, ...args);
  if (r.code !== 0) throw new Error(`fisherflow ${args.join(' ')} exited ${r.code}\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}
