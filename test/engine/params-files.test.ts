// Params files (issue 19, item 1): params.yaml beside the pipeline and `params_files:` are params;
// a stage's `params:` list puts exactly those keys in its key; --set reaches a script that reads
// the file itself and the file is put back after; status, diff, exp run/show/apply see them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ran, runJson } from '../helpers/cli.js';
import { commit, ff, git, ok, removeTemporaryFolders, tempDir } from '../experiments/git-repo.js';

after(removeTemporaryFolders);

// Two scripts that read params.yaml themselves (as DVC stages do); `fmt` reads a second file.
const PIPELINE = `params_files: [extra.yaml]
stages:
  prepare:
    run: sed -n 's/^ *seed:.//p' params.yaml | cut -d' ' -f1 > prepared.txt
    params: [prepare.seed]
    outs: [prepared.txt]
  train:
    run: (cat prepared.txt; sed -n 's/^ *n_est:.//p' params.yaml) > model.txt
    deps: [prepared.txt]
    params: [train]
    outs: [model.txt]
  fmt:
    run: echo \${{ params.style }} > fmt.txt
    outs: [fmt.txt]
`;
const PARAMS = `# tuned by hand
prepare:
  seed: 1   # the split's seed
  split: 0.2
train:
  n_est: 50
`;

function project(): string {
  const dir = tempDir({ 'fisherflow.yaml': PIPELINE, 'params.yaml': PARAMS, 'extra.yaml': 'style: plain\n', '.gitignore': 'artifacts/\n.fisherflow/\n*.txt\n' });
  git(dir, 'init', '-q', '-b', 'main');
  return dir;
}

interface StatusJson {
  stages: Array<{ name: string; status: string; reasons: Array<Record<string, unknown>> }>;
}
const status = (dir: string, ...args: string[]) => JSON.parse(ok(dir, 'status', '--json', ...args)) as StatusJson;

test('a params.yaml key reruns exactly the stages that list it, with a typed reason naming the file', () => {
  const dir = project();
  assert.deepEqual(ran(runJson(dir)), ['fmt', 'prepare', 'train']);
  assert.equal(readFileSync(join(dir, 'model.txt'), 'utf8'), '1\n50\n');
  // An unrelated key of the same file changes nothing.
  writeFileSync(join(dir, 'params.yaml'), PARAMS.replace('split: 0.2', 'split: 0.3'));
  assert.deepEqual(ran(runJson(dir)), []);
  // train lists the whole section: n_est reruns it, and only it.
  writeFileSync(join(dir, 'params.yaml'), PARAMS.replace('n_est: 50', 'n_est: 60'));
  const s = status(dir);
  assert.deepEqual(s.stages.find((x) => x.name === 'train')!.reasons, [
    { kind: 'params-file', file: 'params.yaml', name: 'train', from: { n_est: 50 }, to: { n_est: 60 }, text: 'param train (params.yaml) changed from {"n_est":50} to {"n_est":60}' },
  ]);
  assert.deepEqual(s.stages.filter((x) => x.status === 'stale').map((x) => x.name), ['train']);
  assert.deepEqual(ran(runJson(dir)), ['train']);
  // A file listed under params_files: is read too; its values are params for templates.
  writeFileSync(join(dir, 'extra.yaml'), 'style: bold\n');
  assert.deepEqual(status(dir).stages.find((x) => x.name === 'fmt')!.reasons.map((r) => r.kind), ['params-file']);
  assert.deepEqual(ran(runJson(dir)), ['fmt']);
  assert.equal(readFileSync(join(dir, 'fmt.txt'), 'utf8'), 'bold\n');
});

test('--set on a params-file key reaches the script through the file, which is put back after', () => {
  const dir = project();
  runJson(dir);
  const r = ok(dir, 'run', '--set', 'prepare.seed=7');
  assert.match(r, /params\.yaml holds prepare\.seed=7 while this run lasts/);
  assert.equal(readFileSync(join(dir, 'prepared.txt'), 'utf8'), '7\n', 'the script read the value --set gave');
  assert.equal(readFileSync(join(dir, 'params.yaml'), 'utf8'), PARAMS, 'the user\'s file, comments and all, is back');
  // The lock records what ran (seed 7); --set 7 again is all cached, and so is the file's 1 (its earlier run).
  const lock = JSON.parse(readFileSync(join(dir, 'fisherflow.lock'), 'utf8')) as { stages: Record<string, { params: Record<string, unknown> }> };
  assert.deepEqual(lock.stages.prepare.params, { 'prepare.seed': 7 });
  assert.deepEqual(ran(runJson(dir, ['--set', 'prepare.seed=7'])), []);
  assert.deepEqual(ran(runJson(dir)), []);
  assert.equal(readFileSync(join(dir, 'prepared.txt'), 'utf8'), '1\n');
  // A failing command: the file is put back all the same.
  writeFileSync(join(dir, 'fisherflow.yaml'), PIPELINE.replace('> prepared.txt', '> prepared.txt; exit 3'));
  assert.equal(ff(dir, 'run', '--set', 'prepare.seed=8').code, 1);
  assert.equal(readFileSync(join(dir, 'params.yaml'), 'utf8'), PARAMS);
  writeFileSync(join(dir, 'fisherflow.yaml'), PIPELINE);
  // A run that died while the file held its values: the next command puts the user's text back.
  const backup = join(dir, '.fisherflow', 'params-backup');
  mkdirSync(backup, { recursive: true });
  writeFileSync(join(dir, 'params.yaml'), PARAMS.replace('seed: 1', 'seed: 99'));
  writeFileSync(join(backup, 'x.json'), JSON.stringify({ file: join(dir, 'params.yaml'), text: PARAMS, pid: 2 ** 22 + 12345 }));
  ok(dir, 'status');
  assert.equal(readFileSync(join(dir, 'params.yaml'), 'utf8'), PARAMS);
  assert.equal(existsSync(join(backup, 'x.json')), false);
});

test('diff, exp run, exp show and exp apply understand params files', () => {
  const dir = project();
  runJson(dir);
  commit(dir, 'base');
  // diff: a params-file change in the working tree, and --set/--params as run would apply them.
  writeFileSync(join(dir, 'params.yaml'), PARAMS.replace('n_est: 50', 'n_est: 70'));
  const d = JSON.parse(ok(dir, 'diff', '--json')) as { params: Array<{ key: string; old: unknown; new: unknown }>; stages: Array<{ stage: string; reasons?: Array<{ kind: string }> }> };
  assert.deepEqual(d.params.map((p) => [p.key, p.old, p.new]), [['train.n_est', 50, 70]]);
  assert.deepEqual(d.stages.map((s) => [s.stage, s.reasons?.map((r) => r.kind)]), [['train', ['params-file']]]);
  writeFileSync(join(dir, 'over.yaml'), 'prepare: {seed: 3}\n');
  const withSet = JSON.parse(ok(dir, 'diff', '--json', '--params', 'over.yaml', '--set', 'style=bold')) as typeof d;
  assert.deepEqual(withSet.params.map((p) => p.key), ['prepare.seed', 'style', 'train.n_est']);
  assert.match(ff(dir, 'diff', 'HEAD', 'HEAD', '--set', 'style=x').stderr, /--set and --params apply to the working tree/);
  writeFileSync(join(dir, 'params.yaml'), PARAMS);

  // exp run --set on a file key: the script sees it, the file is untouched, exp show has the column.
  const before = statSync(join(dir, 'params.yaml'));
  ok(dir, 'exp', 'run', '--set', 'train.n_est=80', '--name', 'more');
  assert.equal(readFileSync(join(dir, 'params.yaml'), 'utf8'), PARAMS);
  // Not even written and put back: the experiment's private copy of the project held the value.
  const afterExp = statSync(join(dir, 'params.yaml'));
  assert.deepEqual([afterExp.ino, afterExp.mtimeMs], [before.ino, before.mtimeMs], 'exp run never writes the workspace params file');
  const show = JSON.parse(ok(dir, 'exp', 'show', '--json')) as { rows: Array<{ name: string; params: Record<string, unknown> }> };
  assert.deepEqual(show.rows.map((r) => [r.name, r.params['train.n_est']]), [['workspace', 50], ['main', 50], ['more', 80]]);
  // exp apply writes the value into params.yaml (where it lives), comments kept; not into the pipeline.
  assert.match(ok(dir, 'exp', 'apply', 'more'), /train\.n_est \(params\.yaml\): 50 → 80/);
  assert.equal(readFileSync(join(dir, 'params.yaml'), 'utf8'), PARAMS.replace('n_est: 50', 'n_est: 80'));
  assert.equal(readFileSync(join(dir, 'fisherflow.yaml'), 'utf8'), PIPELINE);
  assert.deepEqual(ran(runJson(dir)), [], 'the experiment ran these params: all cached');
});

test('params-file errors name the file: a missing listed file, a list, an unknown key under params:', () => {
  const dir = project();
  writeFileSync(join(dir, 'extra.yaml'), '- a\n');
  assert.match(ff(dir, 'status').stderr, /extra\.yaml:1:1: a params file must be a map/);
  writeFileSync(join(dir, 'fisherflow.yaml'), PIPELINE.replace('[extra.yaml]', '[nope.yaml]'));
  assert.match(ff(dir, 'status').stderr, /fisherflow\.yaml:1:16: params file not found: nope\.yaml/);
  writeFileSync(join(dir, 'fisherflow.yaml'), PIPELINE.replace('params_files: [extra.yaml]\n', '').replace('[prepare.seed]', '[prepare.sed]').replace('${{ params.style }}', 'x'));
  assert.match(ff(dir, 'status').stderr, /fisherflow\.yaml:4:14: params: unknown param 'prepare\.sed' \(did you mean 'prepare\.seed'\?\)/);
});
