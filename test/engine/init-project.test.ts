// `fisherflow init` (a project) and `fisherflow init --example tour`: the files, the schema line
// that points at the installed package, .gitignore lines added to what is there, nothing
// overwritten, and a project that runs at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, REPO_ROOT, runJson, workspace } from '../helpers/cli.js';
import { initProject } from '../../src/cli/commands/init.js';

test('init makes a project that runs: the schema line, a params block, .gitignore lines; it never overwrites', () => {
  const ws = workspace({ '.gitignore': 'node_modules\n*.log' });
  const r = cli(['init'], { cwd: ws });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split('\n')[0], 'Created fisherflow.yaml; .gitignore: /artifacts/ /.fisherflow/');
  assert.match(r.stdout, /^ {2}git init {26}# fisherflow\.lock goes into git with the pipeline$/m);
  const yaml = readFileSync(join(ws, 'fisherflow.yaml'), 'utf8');
  // No install in this folder: the schema of the package that ran init, by its absolute path.
  assert.equal(yaml.split('\n')[0], `# yaml-language-server: $schema=${join(REPO_ROOT, 'schema', 'fisherflow.schema.json')}`);
  assert.match(yaml, /^params: {17}# defaults; override with --set key=value or --params FILE\n {2}seed: 42$/m);
  assert.equal(readFileSync(join(ws, '.gitignore'), 'utf8'), 'node_modules\n*.log\n/artifacts/\n/.fisherflow/\n');
  assert.deepEqual(runJson(ws), { hello: 'ran' });
  assert.deepEqual(runJson(ws, ['--set', 'seed=7']), { hello: 'ran' });

  const again = cli(['init'], { cwd: ws });
  assert.equal(again.code, 2);
  assert.equal(again.stderr, 'fisherflow: init: fisherflow.yaml already exists in .; fisherflow init never overwrites files (choose --dir, or move it)\n');
  assert.match(cli(['init', '--example', 'tuor'], { cwd: ws }).stderr, /init --example 'tuor': no such example \(did you mean 'tour'\?\); the examples: tour/);
  assert.match(cli(['init', '--example', 'tour', '--stage', 'x'], { cwd: ws }).stderr, /init: choose one of --stage NAME \(a stage package\) and --example NAME/);
});

test('init --example tour: the tour pipeline and its data; with fisherflow installed in the project, a relative schema line', () => {
  const ws = workspace({});
  mkdirSync(join(ws, 'node_modules', 'fisherflow', 'schema'), { recursive: true });
  writeFileSync(join(ws, 'node_modules', 'fisherflow', 'schema', 'fisherflow.schema.json'), '{}');
  const made = initProject({ example: 'tour', dir: 'analysis', cwd: ws });
  assert.deepEqual(made.files, ['fisherflow.yaml', 'data/dev.tsv']);
  // A sub-folder of the project has no node_modules of its own: the package's absolute path.
  assert.match(readFileSync(join(ws, 'analysis', 'fisherflow.yaml'), 'utf8'), /^# yaml-language-server: \$schema=\/\S+\/schema\/fisherflow\.schema\.json\n/);
  assert.match(made.message, /^ {2}cd analysis$/m);
  const here = initProject({ example: 'tour', cwd: ws });
  assert.match(readFileSync(join(ws, 'fisherflow.yaml'), 'utf8'), /^# yaml-language-server: \$schema=\.\/node_modules\/fisherflow\/schema\/fisherflow\.schema\.json\n/);
  assert.equal(readFileSync(join(ws, 'data', 'dev.tsv'), 'utf8').split('\n').length, 874, 'SST-2 dev: header, 872 rows');
  assert.deepEqual(here.files, ['fisherflow.yaml', 'data/dev.tsv']);
  assert.ok(existsSync(join(ws, '.gitignore')));
});
