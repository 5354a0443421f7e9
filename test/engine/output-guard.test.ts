// Outputs can never destroy sources: a command stage's outs are deleted before it runs, so an out
// naming the project, .git, the store, .fisherflow/, the pipeline/params/lock file or a file git
// tracks is refused when the pipeline is opened, with its file:line:column, and nothing is touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, workspace } from '../helpers/cli.js';
import { GIT_ENV } from '../experiments/git-repo.js';

const pipeline = (outs: string) => `stages:\n  a:\n    run: echo hi > x.txt\n    outs: ${outs}\n`;

/** A git repository with committed inputs (data/in.tsv, notes.txt) and the pipeline. */
function project(outs: string, opts: { git?: boolean } = {}): string {
  const ws = workspace({ 'fisherflow.yaml': pipeline(outs), 'notes.txt': 'mine\n' });
  mkdirSync(join(ws, 'data'));
  writeFileSync(join(ws, 'data', 'in.tsv'), 'a\tb\n');
  if (opts.git !== false) {
    execFileSync('git', ['init', '-q'], { cwd: ws, env: GIT_ENV });
    execFileSync('git', ['add', 'fisherflow.yaml', 'notes.txt', 'data'], { cwd: ws, env: GIT_ENV });
  }
  return ws;
}

function refused(outs: string, pattern: RegExp, opts: { git?: boolean; args?: string[] } = {}) {
  const ws = project(outs, opts);
  const r = cli(opts.args ?? ['run'], { cwd: ws });
  assert.equal(r.code, 2, `${outs}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  // Nothing ran and nothing was deleted.
  assert.equal(existsSync(join(ws, 'x.txt')), false);
  assert.equal(readFileSync(join(ws, 'fisherflow.yaml'), 'utf8'), pipeline(outs));
  assert.equal(readFileSync(join(ws, 'data', 'in.tsv'), 'utf8'), 'a\tb\n');
  if (opts.git !== false) assert.ok(existsSync(join(ws, '.git', 'HEAD')));
}

test('outs "." and "./" (the whole project, .git and the pipeline file) are refused with file:line:column', () => {
  refused('["."]', /fisherflow\.yaml:4:12: stage 'a': output '\.' would delete the pipeline folder itself/);
  refused('["./"]', /fisherflow\.yaml:4:12: stage 'a': output '\.' would delete the pipeline folder itself/);
  refused('["."]', /would delete the pipeline folder itself/, { git: false });
});

test('outs naming .git, the store, .fisherflow, the pipeline, lock or params file are refused', () => {
  refused('[.git]', /fisherflow\.yaml:4:12: stage 'a': output '\.git' would delete the git repository/);
  refused('[.git/hooks]', /output '\.git\/hooks' lies inside the git repository/);
  refused('[artifacts]', /output 'artifacts' would delete the store \(artifacts\)/);
  refused('[artifacts/objects]', /lies inside the store/);
  refused('[.fisherflow]', /would delete fisherflow's state folder/);
  refused('[fisherflow.yaml]', /would delete the pipeline file fisherflow\.yaml/);
  refused('[fisherflow.lock]', /would delete the lock file fisherflow\.lock/);
  refused('[fisherflow.config.yaml]', /would delete the project's config file fisherflow\.config\.yaml/);
  // A metrics file that is not in outs is an output too.
  refused('[x.txt]\n    metrics: [fisherflow.lock]', /fisherflow\.yaml:5:15: stage 'a': output 'fisherflow\.lock' would delete the lock file/);
  // --store elsewhere inside the project.
  refused('[store/sub]', /lies inside the store \(store\)/, { args: ['run', '--store', 'store'] });
});

test('outs that git tracks (a file, or a folder of committed inputs) are refused, like DVC', () => {
  refused('[notes.txt]', /fisherflow\.yaml:4:12: stage 'a': output 'notes\.txt' is tracked by git; remove it from git \(git rm --cached notes\.txt\) or from outs/);
  refused('[data]', /output 'data' holds files tracked by git \(data\/in\.tsv\); remove them from git or 'data' from outs/);
  refused('[x.txt, data/]', /output 'data' holds files tracked by git/, { args: ['status'] });
});

test('outside a git repository, and for untracked outs, the check lets the pipeline run', () => {
  // Without git nothing is tracked (existing files are protected by the workspace-outputs rules instead).
  const plain = project('[data]', { git: false });
  assert.equal(cli(['status'], { cwd: plain }).code, 0);
  const ws = project('[x.txt]');
  const r = cli(['run'], { cwd: ws });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(ws, 'x.txt'), 'utf8'), 'hi\n');
});

test('the params file given with --params is protected too', () => {
  const ws = project('[p.yaml]');
  writeFileSync(join(ws, 'p.yaml'), '{}\n');
  const r = cli(['run', '--params', 'p.yaml'], { cwd: ws });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /output 'p\.yaml' would delete the params file p\.yaml/);
  assert.equal(readFileSync(join(ws, 'p.yaml'), 'utf8'), '{}\n');
});
