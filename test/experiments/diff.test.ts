// End-to-end: `fisherflow diff` and `fisherflow metrics show` in temporary real git repositories.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PIPELINE, commit, ff, git, ok, removeTemporaryFolders, repo, setParam, tempDir } from './git-repo.js';

after(removeTemporaryFolders);

/** Committed at x=1, then x=3 after a run: two revisions with different params and metrics. */
function twoCommits(files: Record<string, string> = {}) {
  const dir = repo(files);
  ok(dir, 'run');
  const c1 = commit(dir, 'x=1');
  setParam(dir, 'x: 1 ', 'x: 3 ');
  ok(dir, 'run');
  const c2 = commit(dir, 'x=3');
  return { dir, c1, c2 };
}

const noStack = (s: string) => assert.doesNotMatch(s, /\n\s+at .*\(.*:\d+:\d+\)/, `stack trace in: ${s}`);

test('diff between two commits shows the param, stage key and metric changes (text, --json, --md)', () => {
  const { dir, c1, c2 } = twoCommits();
  const j = JSON.parse(ok(dir, 'diff', 'HEAD~1', 'HEAD', '--json'));
  assert.equal(j.a.commit, c1);
  assert.equal(j.b.commit, c2);
  assert.deepEqual(j.params, [{ key: 'x', old: 1, new: 3, status: 'changed' }]);
  // Only the stage that reads x has a new key.
  assert.deepEqual(j.stages.map((s: { stage: string; status: string }) => [s.stage, s.status]), [['train', 'changed']]);
  assert.deepEqual(j.metrics, [{ file: 'm.json', key: 'acc', old: 1, new: 3, change: 2, status: 'changed' }]);

  const text = ok(dir, 'diff', 'HEAD~1', 'HEAD');
  assert.match(text, /^\s+x\s+1\s+3$/m);
  assert.match(text, /^\s+m\.json:acc\s+1\s+3\s+\+2$/m);
  assert.match(text, /^\s+train\s+[0-9a-f]{10}\s+[0-9a-f]{10}\s+changed$/m);

  const md = ok(dir, 'diff', c1, c2, '--md');
  assert.match(md, /^\| Metric \| .* \| Change \|$/m);
  assert.match(md, /^\| `m\.json:acc` \| 1 \| 3 \| \+2 \|$/m);
  assert.match(md, /^\| `x` \| 1 \| 3 \|$/m);

  // --all lists what did not change too; arrays in metrics are indexed.
  const all = JSON.parse(ok(dir, 'diff', 'HEAD~1', 'HEAD', '--json', '--all'));
  const loss = all.metrics.find((m: { key: string }) => m.key === 'nested.loss.1');
  assert.deepEqual(loss, { file: 'm.json', key: 'nested.loss.1', old: 0.25, new: 0.25, change: 0, status: 'unchanged' });
  assert.ok(all.params.some((p: { key: string; status: string }) => p.key === 'opt.lr' && p.status === 'unchanged'));
  const picked = JSON.parse(ok(dir, 'diff', 'HEAD~1', 'HEAD', '--json', '--all', '--metric', 'nested.*'));
  assert.deepEqual(picked.metrics.map((m: { key: string }) => m.key), ['nested.loss.0', 'nested.loss.1']);

  assert.match(ok(dir, 'diff', 'HEAD', 'HEAD'), /no differences in params, stage keys or metrics/);

  // Store gone and metrics files not committed: no numbers, and a note saying why.
  rmSync(join(dir, 'artifacts'), { recursive: true, force: true });
  const lost = JSON.parse(ok(dir, 'diff', 'HEAD~1', 'HEAD', '--json'));
  assert.deepEqual(lost.metrics, []);
  assert.ok(lost.notes.some((n: string) => /m\.json .*not in the store/.test(n)), lost.notes.join('\n'));
});

test('diff defaults to HEAD vs the working tree and names the stages that would rerun', () => {
  const dir = repo();
  ok(dir, 'run');
  commit(dir, 'first');
  assert.match(ok(dir, 'diff'), /no differences/);
  setParam(dir, 'y: 10', 'y: 20');
  const j = JSON.parse(ok(dir, 'diff', '--json'));
  assert.equal(j.b.label, 'workspace');
  assert.equal(j.b.commit, null);
  assert.deepEqual(j.params, [{ key: 'y', old: 10, new: 20, status: 'changed' }]);
  assert.equal(j.stages.length, 1);
  assert.equal(j.stages[0].stage, 'report');
  // Reasons are typed objects plus their text (the JSON shape scripts rely on; src/plan/reasons.ts).
  assert.deepEqual(j.stages[0].reasons, [{ kind: 'param', name: 'y', from: 10, to: 20, text: 'param y changed from 10 to 20' }]);
  assert.deepEqual(j.metrics, [], 'nothing ran yet, so no metric changed');
  assert.match(ok(dir, 'diff'), /report would rerun: .*param y changed from 10 to 20/);

  ok(dir, 'run');
  const after = JSON.parse(ok(dir, 'diff', '--json'));
  assert.deepEqual(after.metrics, [{ file: 'r.yaml', key: 'size', old: 10, new: 20, change: 10, status: 'changed' }]);
  assert.equal(after.stages[0].reasons, undefined, 'up to date after the run');
});

test('metrics show flattens nested keys (arrays indexed) from JSON and YAML files; works without git', () => {
  const dir = tempDir({ 'fisherflow.yaml': PIPELINE });
  assert.match(ok(dir, 'metrics', 'show'), /no lock file yet; run the pipeline first/);
  ok(dir, 'run');
  const j = JSON.parse(ok(dir, 'metrics', 'show', '--json'));
  assert.deepEqual(j.metrics, { 'm.json': { acc: 1, 'nested.loss.0': 0.5, 'nested.loss.1': 0.25 }, 'r.yaml': { size: 10 } });
  assert.deepEqual(j.stale, {});
  // Readable by default: values inside lists (loss curves, per-epoch rows) only with --all.
  const text = ok(dir, 'metrics', 'show');
  assert.match(text, /^m\.json\s+acc\s+1$/m);
  assert.match(text, /^r\.yaml\s+size\s+10$/m);
  assert.doesNotMatch(text, /nested/);
  assert.match(text, /^\(2 more: values inside lists, such as loss curves and per-epoch rows, and text fields; --all shows them\)$/m);
  assert.match(ok(dir, 'metrics', 'show', '--all'), /^m\.json\s+nested\.loss\.0\s+0\.5$/m);
  // Edited but not rerun: the numbers are the last run's, and it says so.
  setParam(dir, 'x: 1 ', 'x: 2 ');
  assert.match(ok(dir, 'metrics', 'show'), /stage train is stale \(.*param x changed from 1 to 2.*\); its metrics are from its last run/);
});

test('with the store gone, metrics come from files committed in git (when their hash matches the lock)', () => {
  // Metrics files committed (not ignored), as DVC users often do.
  const { dir } = twoCommits({ '.gitignore': 'artifacts/\n.fisherflow/\n' });
  rmSync(join(dir, 'artifacts'), { recursive: true, force: true });
  const j = JSON.parse(ok(dir, 'diff', 'HEAD~1', 'HEAD', '--json'));
  assert.deepEqual(j.metrics, [{ file: 'm.json', key: 'acc', old: 1, new: 3, change: 2, status: 'changed' }]);
  // A committed file that is not the run's output is not trusted.
  writeFileSync(join(dir, 'm.json'), '{"acc": 99}\n');
  commit(dir, 'hand-edited metrics');
  const j2 = JSON.parse(ok(dir, 'diff', 'HEAD~2', 'HEAD', '--json'));
  assert.deepEqual(j2.metrics, []);
  assert.ok(j2.notes.some((n: string) => /HEAD: metrics m\.json .*not in the store/.test(n)), j2.notes.join('\n'));
});

test('clean errors: outside git, unknown revision, no commits, pipeline not yet committed', () => {
  const plain = tempDir({ 'fisherflow.yaml': PIPELINE });
  for (const args of [['diff'], ['exp', 'run', '--set', 'x=2'], ['exp', 'show']]) {
    const r = ff(plain, ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /is not inside a git repository/);
    assert.match(r.stderr, /hint: run 'git init'/);
    noStack(r.stderr);
  }

  const empty = repo();
  const r0 = ff(empty, 'diff');
  assert.equal(r0.code, 2);
  assert.match(r0.stderr, /revision 'HEAD' does not exist: the repository .* has no commits yet/);

  const dir = tempDir({ 'README.md': 'hello\n', '.gitignore': 'artifacts/\n.fisherflow/\n' });
  git(dir, 'init', '-q', '-b', 'main');
  commit(dir, 'readme only');
  writeFileSync(join(dir, 'fisherflow.yaml'), PIPELINE);
  ok(dir, 'run');
  const c2 = commit(dir, 'add the pipeline');
  const r1 = ff(dir, 'diff', 'HEAD~1', 'HEAD');
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /fisherflow\.yaml did not exist at revision 'HEAD~1' \([0-9a-f]{7} readme only\)/);
  assert.match(r1.stderr, new RegExp(`hint: it was first committed in ${c2.slice(0, 7)} \\(add the pipeline\\)`));
  noStack(r1.stderr);

  const r2 = ff(dir, 'diff', 'nope');
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /revision 'nope' does not exist/);
  assert.match(ff(dir, 'diff', 'mian').stderr, /did you mean 'main'\?/);
  const r3 = ff(dir, 'diff', '--json', '--md');
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /choose one of --json and --md/);
});
