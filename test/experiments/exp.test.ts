// End-to-end: `fisherflow exp run|show|apply|remove` in temporary real git repositories.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runJson, ran } from '../helpers/cli.js';
import { GIT_ENV, commit, ff, ok, removeTemporaryFolders, repo } from './git-repo.js';

after(removeTemporaryFolders);

interface Row {
  kind: string;
  name: string;
  rev: string | null;
  params: Record<string, unknown>;
  metrics: Record<string, Record<string, unknown>>;
}

function committed() {
  const dir = repo();
  ok(dir, 'run');
  const sha = commit(dir, 'baseline');
  return { dir, sha };
}

const read = (dir: string, f: string) => readFileSync(join(dir, f), 'utf8');

test('exp run --set twice: both recorded with their metrics, YAML and lock untouched; exp show lists them', () => {
  const { dir, sha } = committed();
  const before = { yaml: read(dir, 'fisherflow.yaml'), lock: read(dir, 'fisherflow.lock'), m: read(dir, 'm.json') };

  const r1 = JSON.parse(ok(dir, 'exp', 'run', '--set', 'x=2', '--json'));
  assert.equal(r1.experiment, 'exp-1');
  assert.equal(r1.recorded, true);
  assert.deepEqual(r1.metrics['m.json'], { acc: 2, 'nested.loss.0': 0.5, 'nested.loss.1': 0.25 });
  assert.deepEqual(Object.fromEntries(r1.stages.map((s: { name: string; status: string }) => [s.name, s.status])), { train: 'ran', report: 'cached' });
  const r2 = JSON.parse(ok(dir, 'exp', 'run', '--set', 'x=5', '--name', 'five', '--json'));
  assert.equal(r2.experiment, 'five');

  // The workspace is as it was: YAML, lock file, and the command stage's output file.
  assert.equal(read(dir, 'fisherflow.yaml'), before.yaml);
  assert.equal(read(dir, 'fisherflow.lock'), before.lock);
  assert.equal(read(dir, 'm.json'), before.m);
  // Storage contract (gc reads it): <root>/.fisherflow/experiments/<name>/<pipeline>.lock + experiment.json.
  const expDir = join(dir, '.fisherflow', 'experiments', 'five');
  assert.deepEqual(readdirSync(expDir).sort(), ['experiment.json', 'fisherflow.lock']);
  const rec = JSON.parse(read(expDir, 'experiment.json'));
  assert.equal(rec.baseCommit, sha);
  assert.deepEqual(rec.set, ['x=5']);
  assert.equal(rec.params.x, 5);
  assert.equal(JSON.parse(read(expDir, 'fisherflow.lock')).params.x, 5);

  const t = JSON.parse(ok(dir, 'exp', 'show', '--json')) as { rows: Row[] };
  assert.deepEqual(t.rows.map((r) => [r.kind, r.name]), [['workspace', 'workspace'], ['commit', 'main'], ['experiment', 'exp-1'], ['experiment', 'five']]);
  const [, head, e1, e5] = t.rows;
  assert.equal(head.rev, sha);
  assert.equal(e1.rev, sha);
  assert.deepEqual([e1.params.x, e1.metrics['m.json'].acc, e5.params.x, e5.metrics['m.json'].acc], [2, 2, 5, 5]);
  assert.deepEqual([head.params.x, head.metrics['m.json'].acc, head.metrics['r.yaml'].size], [1, 1, 10]);

  // Readable by default: params and top-level metrics; values inside lists (curves) with --all.
  const text = ok(dir, 'exp', 'show');
  assert.match(text, /^name\s+rev\s+created\s+x\s+m\.json:acc\s+r\.yaml:size$/m);
  assert.match(text, /^├─ exp-1\s+[0-9a-f]{7}\s+\S+ \S+\s+2\s+2\s+10$/m);
  assert.match(text, /^└─ five\s+[0-9a-f]{7}\s+\S+ \S+\s+5\s+5\s/m);
  assert.match(text, /\(2 metric columns inside lists, such as loss curves and per-epoch rows, or of text not shown; --all shows them\)/);
  assert.match(text, /2 params equal in every row not shown/);
  const all = ok(dir, 'exp', 'show', '--all');
  assert.match(all, /^name\s+rev\s+created\s.*\bx\s.*m\.json:acc\s+m\.json:nested\.loss\.0\s+m\.json:nested\.loss\.1\s+r\.yaml:size$/m);
  assert.match(all, /^├─ exp-1\s+[0-9a-f]{7}\s+\S+ \S+\s.*\s2\s+0\.5\s+0\.25\s+10$/m);
  assert.doesNotMatch(all, /not shown/);

  // diff takes experiment names where it takes revisions.
  const d = JSON.parse(ok(dir, 'diff', 'exp-1', 'five', '--json'));
  assert.deepEqual([d.a.label, d.a.commit, d.b.label], ['exp-1', null, 'five']);
  assert.deepEqual(d.params, [{ key: 'x', old: 2, new: 5, status: 'changed' }]);
  assert.deepEqual(d.metrics, [{ file: 'm.json', key: 'acc', old: 2, new: 5, change: 3, status: 'changed' }]);
  assert.deepEqual(d.stages.map((s: { stage: string }) => s.stage), ['train']);
  const only = ok(dir, 'exp', 'show', '--metric', 'acc', '--metric', 'r.yaml:*');
  assert.match(only, /^name\s+rev\s+created\s+x\s+m\.json:acc\s+r\.yaml:size$/m);
  const csv = ok(dir, 'exp', 'show', '--csv').trim().split('\n');
  assert.equal(csv[0], 'kind,name,rev,created,params.opt.lr,params.x,params.y,m.json:acc,m.json:nested.loss.0,m.json:nested.loss.1,r.yaml:size');
  assert.match(csv[4], /^experiment,five,[0-9a-f]{40},[^,]+,0\.5,5,10,5,0\.5,0\.25,10$/);
});

test('an experiment whose params match an earlier one (or the workspace) reruns nothing', () => {
  const { dir } = committed();
  const first = JSON.parse(ok(dir, 'exp', 'run', '--set', 'x=2', '--set', 'y=30', '--json'));
  assert.deepEqual(first.stages.map((s: { status: string }) => s.status), ['ran', 'ran']);
  const again = JSON.parse(ok(dir, 'exp', 'run', '--set', 'y=30', '--set', 'x=2', '--json'));
  assert.deepEqual(again.stages.map((s: { status: string }) => s.status), ['cached', 'cached']);
  assert.deepEqual(again.notes, ["same params as experiment 'exp-1'"]);
  assert.deepEqual(again.metrics, first.metrics);
  const base = JSON.parse(ok(dir, 'exp', 'run', '--json'));
  assert.deepEqual(base.stages.map((s: { status: string }) => s.status), ['cached', 'cached']);
  assert.equal(base.metrics['m.json'].acc, 1);
});

test('exp apply writes params back keeping comments and layout; after gc the next run is all cached', () => {
  const { dir } = committed();
  ok(dir, 'exp', 'run', '--set', 'x=4', '--set', 'opt.lr=0.125', '--name', 'best');
  ok(dir, 'exp', 'run', '--set', 'x=7');
  // gc keeps what experiments' lock files reference.
  ok(dir, 'gc', '--yes');
  const out = ok(dir, 'exp', 'apply', 'best');
  assert.match(out, /^x: 1 → 4$/m);
  assert.match(out, /^opt\.lr: 0\.5 → 0\.125$/m);
  const yaml = read(dir, 'fisherflow.yaml');
  assert.match(yaml, /^# experiment pipeline$/m);
  assert.match(yaml, /^ {2}x: 4 {4}# the knob$/m);
  assert.match(yaml, /^ {2}opt: \{lr: 0\.125\}$/m);
  assert.deepEqual(ran(runJson(dir, [], GIT_ENV)), []);
  assert.equal(JSON.parse(ok(dir, 'metrics', 'show', '--json')).metrics['m.json'].acc, 4);
  assert.match(ok(dir, 'exp', 'apply', 'best'), /already has the params of experiment best/);
  ok(dir, 'exp', 'apply', 'exp-1');
  assert.deepEqual(ran(runJson(dir, [], GIT_ENV)), [], 'exp-1 survived gc too');

  const bad = ff(dir, 'exp', 'apply', 'bets');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /no experiment named 'bets' \(did you mean 'best'\?\)/);
});

test('names: taken names need --force, bad names are refused, remove deletes; failed runs are not recorded', () => {
  const { dir } = committed();
  ok(dir, 'exp', 'run', '--set', 'x=2', '--name', 'a');
  const taken = ff(dir, 'exp', 'run', '--set', 'x=3', '--name', 'a');
  assert.equal(taken.code, 2);
  assert.match(taken.stderr, /experiment 'a' already exists/);
  assert.match(taken.stderr, /--force/);
  ok(dir, 'exp', 'run', '--set', 'x=3', '--name', 'a', '--force');
  const shown = JSON.parse(ok(dir, 'exp', 'show', '--json')) as { rows: Row[] };
  assert.deepEqual(shown.rows.filter((r) => r.kind === 'experiment').map((r) => [r.name, r.params.x]), [['a', 3]]);

  assert.match(ff(dir, 'exp', 'run', '--name', '../x').stderr, /'\.\.\/x' is not a valid experiment name/);
  assert.match(ff(dir, 'exp', 'run', '--set', 'nope=1').stderr, /--set nope: the pipeline declares no param 'nope'/);

  // The command fails for this value: nothing recorded, the experiment it was to replace and
  // the workspace's lock file untouched. (A value is data: 'x=1; exit 3' would not fail it.)
  const lock = read(dir, 'fisherflow.lock');
  const failed = ff(dir, 'exp', 'run', '--set', 'x=fail', '--name', 'a', '--force');
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stdout, /experiment a not recorded/);
  assert.deepEqual(readdirSync(join(dir, '.fisherflow', 'experiments')), ['a']);
  assert.equal(JSON.parse(read(join(dir, '.fisherflow', 'experiments', 'a'), 'experiment.json')).params.x, 3);
  assert.equal(read(dir, 'fisherflow.lock'), lock);

  ok(dir, 'exp', 'remove', 'a');
  const after = JSON.parse(ok(dir, 'exp', 'show', '--json')) as { rows: Row[] };
  assert.equal(after.rows.filter((r) => r.kind === 'experiment').length, 0);
  assert.match(ff(dir, 'exp', 'remove', 'a').stderr, /no experiment named 'a'/);
});

test('exp show lists the commits of the current branch (first parent), newest first', () => {
  const { dir, sha } = committed();
  ok(dir, 'exp', 'run', '--set', 'x=9');
  const yaml = read(dir, 'fisherflow.yaml');
  // A second commit at x=2; the experiment stays listed under its base commit.
  writeFileSync(join(dir, 'fisherflow.yaml'), yaml.replace('x: 1 ', 'x: 2 '));
  ok(dir, 'run');
  const sha2 = commit(dir, 'x=2');
  const t = JSON.parse(ok(dir, 'exp', 'show', '--json')) as { rows: Row[] };
  assert.deepEqual(t.rows.map((r) => [r.kind, r.name, r.rev, r.params.x]), [
    ['workspace', 'workspace', null, 2],
    ['commit', 'main', sha2, 2],
    ['commit', 'main~1', sha, 1],
    ['experiment', 'exp-1', sha, 9],
  ]);
  const limited = JSON.parse(ok(dir, 'exp', 'show', '--json', '-n', '1')) as { rows: Row[] };
  // The experiment's base is beyond the limit: it is still listed, at the end.
  assert.deepEqual(limited.rows.map((r) => r.name), ['workspace', 'main', 'exp-1']);
});
