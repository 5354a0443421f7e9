// The workspace is the user's: status reports a command stage's workspace output that was edited,
// deleted or left stale by `git checkout`; run never silently overwrites a file fisherflow did not
// write (it stops; --force replaces); a failed run puts the previous outputs back, and so does the
// next run after a crash; `exp run` never touches the workspace.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliAsync, runJson, ran, workspace } from '../helpers/cli.js';
import { GIT_ENV, commit, git, ok, removeTemporaryFolders, repo } from '../experiments/git-repo.js';
import { openWorkspace } from '../../src/plan/workspace.js';
import { planPipeline } from '../../src/plan/plan.js';

after(removeTemporaryFolders);

const PIPELINE = `params:\n  v: 1\nstages:
  a:
    run: echo \${{ params.v }} > a.txt
    outs: [a.txt]
  b:
    run: cat a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
`;

const read = (dir: string, f: string) => readFileSync(join(dir, f), 'utf8');

async function reasons(dir: string, set: string[] = []): Promise<Record<string, string[]>> {
  const ws = await openWorkspace(join(dir, 'fisherflow.yaml'), { set });
  const plans = planPipeline(ws);
  return Object.fromEntries([...plans.values()].map((p) => [p.name, p.reasons.map((r) => r.kind)]));
}

test('an edited workspace output: status reports it, run stops without touching it, --force replaces it', async () => {
  const ws = workspace({ 'fisherflow.yaml': PIPELINE });
  runJson(ws);
  writeFileSync(join(ws, 'a.txt'), 'my edit\n');
  assert.deepEqual(await reasons(ws), { a: ['output-modified'], b: [] });
  const st = cli(['status'], { cwd: ws });
  assert.match(st.stdout, /stale\s+a\n\s+- workspace output a\.txt was changed, or not written by fisherflow; run will not overwrite it \(--force replaces it\)/);
  const r = cli(['run'], { cwd: ws });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /fisherflow\.yaml:6:12: stage 'a': a\.txt was changed since fisherflow wrote it, or was not written by fisherflow; not overwriting it\. Move it away, or run with --force a to replace it/);
  assert.equal(read(ws, 'a.txt'), 'my edit\n');
  // Also when the stage is stale for another reason: a rerun would overwrite the edit too.
  assert.equal(cli(['run', '--set', 'v=2'], { cwd: ws }).code, 2);
  assert.equal(read(ws, 'a.txt'), 'my edit\n');
  assert.deepEqual(ran(runJson(ws, ['--force', 'a'])), ['a']);
  assert.equal(read(ws, 'a.txt'), '1\n');
});

test('a deleted workspace output: status says so, run copies it back from the store (no rerun)', async () => {
  const ws = workspace({ 'fisherflow.yaml': PIPELINE });
  runJson(ws);
  rmSync(join(ws, 'b.txt'));
  assert.deepEqual(await reasons(ws), { a: [], b: ['output-missing'] });
  assert.match(cli(['status'], { cwd: ws }).stdout, /stale\s+b\n\s+- workspace output b\.txt is missing; run copies it back from the store\n\n1 up to date, 1 stale/);
  const r = cli(['run'], { cwd: ws });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /b: restored b\.txt from the store/);
  assert.equal(read(ws, 'b.txt'), '1\n');
  assert.match(cli(['status'], { cwd: ws }).stdout, /2 up to date, 0 stale/);
});

test('outputs left stale by git checkout: status reports them, run restores this revision\'s results', async () => {
  const dir = repo({ 'fisherflow.yaml': PIPELINE, '.gitignore': 'artifacts/\n.fisherflow/\na.txt\nb.txt\n' });
  ok(dir, 'run');
  commit(dir, 'v1');
  writeFileSync(join(dir, 'fisherflow.yaml'), PIPELINE.replace('v: 1', 'v: 2'));
  ok(dir, 'run');
  commit(dir, 'v2');
  git(dir, 'checkout', '-q', 'HEAD~1');
  assert.equal(read(dir, 'b.txt'), '2\n', 'the workspace still holds v2\'s outputs');
  assert.deepEqual(await reasons(dir), { a: ['output-outdated'], b: ['output-outdated'] });
  assert.match(ok(dir, 'status'), /workspace output a\.txt is from another run \(e\.g\. before a git checkout\); run copies this run's result back from the store/);
  assert.deepEqual(ran(runJson(dir, [], GIT_ENV)), []);
  assert.equal(read(dir, 'a.txt'), '1\n');
  assert.equal(read(dir, 'b.txt'), '1\n');
});

test('a first run does not destroy files already there: it refuses without --force; with it, a failure puts them back', () => {
  const ws = workspace({ 'fisherflow.yaml': 'stages:\n  a:\n    run: echo partial > res.txt; exit 1\n    outs: [res.txt]\n', 'res.txt': 'from another tool\n' });
  const r = cli(['run'], { cwd: ws });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /stage 'a': res\.txt was changed since fisherflow wrote it, or was not written by fisherflow; not overwriting it/);
  assert.equal(read(ws, 'res.txt'), 'from another tool\n');
  const forced = cli(['run', '--force'], { cwd: ws });
  assert.equal(forced.code, 1, 'the stage failed');
  assert.equal(read(ws, 'res.txt'), 'from another tool\n', 'moved aside during the run, put back when it failed');
  assert.deepEqual(readdirSync(join(ws, '.fisherflow')).filter((f) => f === 'aside' || f === 'pending').flatMap((f) => readdirSync(join(ws, '.fisherflow', f))), [], 'nothing left aside');
});

test('a failed rerun puts the previous outputs back, so the workspace still matches the lock file', () => {
  const ws = workspace({ 'fisherflow.yaml': 'params:\n  n: 1\nstages:\n  a:\n    run: echo broken > a.txt; [ ${{ params.n }} = 1 ]\n    outs: [a.txt]\n' });
  runJson(ws);
  assert.equal(read(ws, 'a.txt'), 'broken\n');
  writeFileSync(join(ws, 'fisherflow.yaml'), 'params:\n  n: 1\nstages:\n  a:\n    run: echo ok-${{ params.n }} > a.txt; [ ${{ params.n }} = 1 ]\n    outs: [a.txt]\n');
  runJson(ws);
  assert.equal(read(ws, 'a.txt'), 'ok-1\n');
  assert.equal(cli(['run', '--set', 'n=2'], { cwd: ws }).code, 1);
  assert.equal(read(ws, 'a.txt'), 'ok-1\n');
  assert.match(cli(['status'], { cwd: ws }).stdout, /1 up to date, 0 stale/);
});

test('after the engine is killed mid-stage, the next run puts the moved-aside outputs back before planning', async () => {
  const yaml = (v: number) => `stages:\n  a:\n    run: echo $$ > pid; echo half > a.txt; sleep ${v === 1 ? 0 : 30}; echo v${v} > a.txt\n    outs: [a.txt]\n`;
  const ws = workspace({ 'fisherflow.yaml': yaml(1) });
  runJson(ws);
  assert.equal(read(ws, 'a.txt'), 'v1\n');
  writeFileSync(join(ws, 'fisherflow.yaml'), yaml(2));
  const child = cliAsync(['run'], { cwd: ws });
  for (let i = 0; i < 600 && !(existsSync(join(ws, 'a.txt')) && read(ws, 'a.txt') === 'half\n'); i++) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  // The stage's process group outlives a SIGKILLed engine until process supervision lands; stop it here.
  try {
    process.kill(-Number(read(ws, 'pid').trim()), 'SIGKILL');
  } catch {
    /* already gone */
  }
  assert.equal(read(ws, 'a.txt'), 'half\n');
  // A half-written output left by a crash is fisherflow's, not the user's: no refusal, previous content back.
  writeFileSync(join(ws, 'fisherflow.yaml'), yaml(1));
  const r = cli(['run'], { cwd: ws });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /stage 'a' was interrupted by a crash .*; its outputs are back as they were before it ran: a\.txt/);
  assert.equal(read(ws, 'a.txt'), 'v1\n');
  assert.deepEqual(readdirSync(join(ws, '.fisherflow', 'pending')), []);
});

test('exp run never touches the workspace: an edited output stays, nothing is written beside it', () => {
  const dir = repo();
  ok(dir, 'run');
  commit(dir, 'baseline');
  writeFileSync(join(dir, 'm.json'), '{"acc": "my edit"}\n');
  const before = readdirSync(dir).sort();
  const r = JSON.parse(ok(dir, 'exp', 'run', '--set', 'x=2', '--json'));
  assert.equal(r.recorded, true);
  assert.equal(r.metrics['m.json'].acc, 2);
  assert.equal(read(dir, 'm.json'), '{"acc": "my edit"}\n');
  assert.deepEqual(readdirSync(dir).sort(), before);
  assert.deepEqual(readdirSync(join(dir, '.fisherflow', 'exp-run')), [], 'the private mirror is gone');
});
