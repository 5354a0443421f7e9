// fisherflow as a user's project gets it: `npm pack` of this repository (the files the package
// ships), installed into a fresh project as npm installs a tarball — unpacked into
// node_modules/fisherflow with a bin link. Its dependencies (and TypeScript, Node's types) are
// linked from this repository's node_modules rather than downloaded: no network, seconds instead
// of minutes. Shared by the tests that play a new user (test/package).
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';

export function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const all: NodeJS.ProcessEnv = { ...process.env, FISHERFLOW_GPUS: '', FISHERFLOW_STAGES_PATH: '', ...env };
  // Set by the test runner running this file; a nested `node --test` would report to it, not print.
  delete all.NODE_TEST_CONTEXT;
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 180_000, env: all });
}

export function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

export interface InstalledProject {
  /** The project folder (package.json, node_modules/). */
  project: string;
  modules: string;
  /** The tarball's name (fisherflow-VERSION.tgz) and the paths it holds. */
  tarball: string;
  shipped: string[];
}

/** Packs this repository into `tmp` and installs the tarball into `tmp/project`. */
export function installPackedFisherflow(tmp: string): InstalledProject {
  const packed = JSON.parse(ok(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], REPO_ROOT), 'npm pack')) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const project = join(tmp, 'project');
  const modules = join(project, 'node_modules');
  const installed = join(modules, 'fisherflow');
  mkdirSync(installed, { recursive: true });
  ok(run('tar', ['xzf', join(tmp, packed[0].filename), '-C', installed, '--strip-components=1'], tmp), 'tar');
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(installed, 'node_modules'));
  mkdirSync(join(modules, '@types'), { recursive: true });
  mkdirSync(join(modules, '.bin'), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules', 'typescript'), join(modules, 'typescript'));
  symlinkSync(join(REPO_ROOT, 'node_modules', '@types', 'node'), join(modules, '@types', 'node'));
  symlinkSync('../typescript/bin/tsc', join(modules, '.bin', 'tsc'));
  symlinkSync('../fisherflow/bin/fisherflow.js', join(modules, '.bin', 'fisherflow'));
  writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'my-analysis', private: true, devDependencies: { fisherflow: `file:../${packed[0].filename}` } }, null, 2)}\n`);
  return { project, modules, tarball: packed[0].filename, shipped: packed[0].files.map((f) => f.path) };
}
