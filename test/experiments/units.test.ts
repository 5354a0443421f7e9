// Unit tests of the pure parts: metric flattening, numeric change, diff of two revision states,
// reading several blobs through one `git cat-file --batch`.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flattenMetrics, parseMetricsText } from '../../src/metrics/flatten.js';
import { metricFilter } from '../../src/metrics/filter.js';
import { diffRevisions, numericChange, renderDiffMarkdown } from '../../src/experiments/diff.js';
import type { RevisionState } from '../../src/experiments/revision.js';
import { openRepo, readBlobs } from '../../src/experiments/git.js';
import { applyExperiment } from '../../src/experiments/apply.js';
import { commit, git, removeTemporaryFolders, tempDir } from './git-repo.js';

after(removeTemporaryFolders);

test('metrics: nested keys dotted, arrays indexed, non-scalars dropped; JSON or YAML', () => {
  assert.deepEqual(flattenMetrics({ a: { b: 1, c: [0.5, { d: true }] }, e: 'x', f: null }), { 'a.b': 1, 'a.c.0': 0.5, 'a.c.1.d': true, e: 'x', f: null });
  assert.deepEqual(flattenMetrics(0.9), { '': 0.9 });
  assert.deepEqual(parseMetricsText('{"acc": 0.91, "per_class": [0.8, 0.95]}', 'm.json'), { acc: 0.91, 'per_class.0': 0.8, 'per_class.1': 0.95 });
  assert.deepEqual(parseMetricsText('overlap:\n  mean: 0.42\n  layers: {l0: 0.1}\n', 'o.yaml'), { 'overlap.mean': 0.42, 'overlap.layers.l0': 0.1 });
  assert.throws(() => parseMetricsText('a: [1, 2', 'bad.yaml'), /bad\.yaml is neither JSON nor YAML/);
});

test('numericChange has no float noise and is null for non-numbers', () => {
  assert.equal(numericChange(0.1, 0.3), 0.2);
  assert.equal(numericChange(3, 1), -2);
  assert.equal(numericChange('a', 1), null);
  assert.equal(numericChange(undefined, 1), null);
});

function state(label: string, params: Record<string, unknown>, stages: Record<string, string | null>, metrics: Record<string, Record<string, number>>): RevisionState {
  return {
    label,
    params,
    stages: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, { key: v }])),
    metrics: { files: metrics, missing: [] },
    notes: [],
  };
}

test('diffRevisions: added, removed and changed params, stages and metrics; unchanged only with all', () => {
  const a = state('A', { lr: 0.1, model: { depth: 2 }, gone: 1 }, { train: 'k1', old: 'k9' }, { 'm.json': { acc: 0.5, f1: 0.7 } });
  const b = state('B', { lr: 0.2, model: { depth: 2 }, fresh: [1, 2] }, { train: 'k2', new: 'k3' }, { 'm.json': { acc: 0.75, f1: 0.7, auc: 0.9 } });
  const d = diffRevisions('p.yaml', a, b);
  assert.deepEqual(d.params.map((p) => [p.key, p.status]), [['fresh', 'added'], ['gone', 'removed'], ['lr', 'changed']]);
  assert.deepEqual(d.stages.map((s) => [s.stage, s.status]), [['new', 'added'], ['old', 'removed'], ['train', 'changed']]);
  assert.deepEqual(d.metrics.map((m) => [m.key, m.old, m.new, m.change, m.status]), [['acc', 0.5, 0.75, 0.25, 'changed'], ['auc', undefined, 0.9, null, 'added']]);
  const all = diffRevisions('p.yaml', a, b, { all: true });
  assert.ok(all.params.some((p) => p.key === 'model.depth' && p.status === 'unchanged'));
  assert.ok(all.metrics.some((m) => m.key === 'f1' && m.change === 0));
  const md = renderDiffMarkdown(d);
  assert.match(md, /^\| `m\.json:acc` \| 0\.5 \| 0\.75 \| \+0\.25 \|$/m);
  assert.match(md, /^\| `m\.json:auc` \| - \| 0\.9 \|  \|$/m);
});

test('readBlobs reads several rev:path blobs in one git process, undefined for missing ones', () => {
  const dir = tempDir({ 'a.txt': 'first\n', 'b.txt': 'ünïcode\n' });
  git(dir, 'init', '-q', '-b', 'main');
  commit(dir, 'one');
  writeFileSync(join(dir, 'a.txt'), 'second\n');
  commit(dir, 'two');
  const repo = openRepo(join(dir, 'a.txt'), 'test');
  const got = readBlobs(repo, ['HEAD:a.txt', 'HEAD~1:a.txt', 'HEAD:missing.txt', 'HEAD:b.txt', 'nope:a.txt']);
  assert.deepEqual([...got.entries()], [
    ['HEAD:a.txt', 'second\n'],
    ['HEAD~1:a.txt', 'first\n'],
    ['HEAD:missing.txt', undefined],
    ['HEAD:b.txt', 'ünïcode\n'],
    ['nope:a.txt', undefined],
  ]);
});

test('--metric patterns match FILE:KEY or KEY, with * spanning dots', () => {
  const f = metricFilter(['overlap.*', 'm.json:acc']);
  assert.equal(f('o/overlap.json', 'overlap.a~b'), true);
  assert.equal(f('m.json', 'acc'), true);
  assert.equal(f('other.json', 'acc'), false);
  assert.equal(f('m.json', 'loss'), false);
  assert.equal(metricFilter([])('x', 'y'), true);
  assert.equal(metricFilter(['a+b'])('f', 'a+b'), true, 'regex characters are literal');
});

test('exp apply edits values in place (comments, layout kept) and adds missing keys', () => {
  const yaml = `# head
params:
  words: [a, b]   # list
  tags:
    - p
    - q
  name: hello     # plain
  title: "t"
  opt: {lr: 0.1, m: 2}   # flow
stages:
  s:
    run: echo hi > o.txt
    outs: [o.txt]
`;
  const dir = tempDir({ 'fisherflow.yaml': yaml });
  mkdirSync(join(dir, '.git'));
  const expDir = join(dir, '.fisherflow', 'experiments', 'e1');
  mkdirSync(expDir, { recursive: true });
  const params = { words: ['c', 'd,e'], tags: { k: 'v' }, name: 'bye', title: 'x: y', opt: { lr: 0.1, m: 3 } };
  writeFileSync(join(expDir, 'experiment.json'), JSON.stringify({ version: 1, name: 'e1', pipeline: 'fisherflow.yaml', lock: 'fisherflow.lock', baseCommit: null, baseBranch: null, createdAt: '2026-01-01T00:00:00Z', set: [], params, metrics: {}, stages: { ran: [], cached: [] } }));
  const r = applyExperiment(join(dir, 'fisherflow.yaml'), 'e1');
  assert.deepEqual(r.changes.map((c) => c.key), ['words', 'tags', 'name', 'title', 'opt.m']);
  const got = readFileSync(join(dir, 'fisherflow.yaml'), 'utf8');
  assert.equal(got, yaml.replace('[a, b]', '[c, "d,e"]').replace('- p\n    - q', '{k: v}').replace('hello', 'bye').replace('"t"', '"x: y"').replace('m: 2', 'm: 3'));
  assert.equal(applyExperiment(join(dir, 'fisherflow.yaml'), 'e1').changes.length, 0);

  // A key the YAML lacks: added through the document API, comments still there.
  writeFileSync(join(expDir, 'experiment.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(expDir, 'experiment.json'), 'utf8')), params: { ...params, extra: { depth: 4 } } }));
  const r2 = applyExperiment(join(dir, 'fisherflow.yaml'), 'e1');
  assert.deepEqual(r2.changes, [{ key: 'extra', old: undefined, new: { depth: 4 }, added: true }]);
  const got2 = readFileSync(join(dir, 'fisherflow.yaml'), 'utf8');
  assert.match(got2, /^# head$/m);
  assert.match(got2, /^ {2}extra: \{depth: 4\}$/m);
  assert.match(got2, /# flow$/m);
});
