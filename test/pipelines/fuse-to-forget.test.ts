// pipelines/fuse-to-forget.yaml end to end through the CLI, shrunk by --set to two kinds, one
// pair, tiny models and a few sentences: every stage runs, the fused models are evaluated on every
// model's sets, the interpolation's end points are the models themselves, and `base` can be
// pointed at a folder instead of the pipeline's own base model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, workspace, REPO_ROOT } from '../helpers/cli.js';
import { VENDORED_DATA } from './vendored-data.js';

const TINY = [
  ...VENDORED_DATA,
  '--set', 'train_sentences=120',
  '--set', 'dev_sentences=60',
  '--set', 'kinds=[st, op]',
  '--set', 'pairs=[[st, op]]',
  '--set', 'interpolation.alphas=[0, 0.5, 1]',
  '--set', 'base_config.hidden_size=16',
  '--set', 'base_config.num_hidden_layers=1',
  '--set', 'base_config.intermediate_size=32',
  '--set', 'base_train.epochs=1',
  '--set', 'train.epochs=1',
  '--set', 'examples=16',
  '--set', 'fusion.fisher_examples=16',
];

test('fuse-to-forget.yaml runs end to end at reduced size', { timeout: 600_000 }, () => {
  const ws = workspace({});
  copyFileSync(join(REPO_ROOT, 'pipelines', 'fuse-to-forget.yaml'), join(ws, 'fuse-to-forget.yaml'));
  // 41 stages, 16 of them loading TensorFlow.js: about a minute on two idle cores, more under load.
  const run = cli(['run', 'fuse-to-forget.yaml', ...TINY], { cwd: ws, timeoutMs: 540_000 });
  assert.equal(run.code, 0, run.stderr + run.stdout);
  // The summary: the accuracy table, then the report.
  assert.match(run.stdout, /Accuracy \(%\) of each model on its own sets[^\n]*\nmodel +set +own +average \(Δ\) +fisher \(Δ\)\nst +synthetic_dev /);
  assert.match(run.stdout, /\nop +original_dev +\d+\.\d\d +\d+\.\d\d \([−+±]\d+\.\d\d\)/);
  const report = /Report: (.*report\.html)/.exec(run.stdout)?.[1];
  assert.ok(report);
  const html = readFileSync(existsSync(report) ? report : join(ws, report), 'utf8');
  for (const id of ['fusion', 'interpolation', 'overlap-st-op', 'training']) assert.match(html, new RegExp(`id="${id}"`));
  assert.match(html, /data-chart="interpolation"/);
  assert.match(html, /href="#overlap-st-op"/, 'the interpolation links to the pair\'s overlap');

  const show = (what: string) => cli(['show', what, 'fuse-to-forget.yaml', ...TINY], { cwd: ws }).stdout.trim();
  const metrics = (stage: string) => JSON.parse(readFileSync(show(`${stage}.metrics`), 'utf8'));
  // Interpolation at α = 0 and 1 is the pair's first and second model, so their accuracies are.
  for (const [alpha, kind] of [['0', 'st'], ['1', 'op']] as const) {
    const own = metrics(`evaluate-model@${kind}`).sets;
    const interp = metrics(`evaluate-interpolation@st-op,${alpha}`).sets;
    for (const split of ['synthetic_dev', 'original_dev']) assert.equal(interp[`${kind},${split}`].accuracy, own[`${kind},${split}`].accuracy, `α = ${alpha}, ${kind},${split}`);
  }
  const mid = JSON.parse(readFileSync(join(show('interpolation@st-op,0.5.model'), 'merge.json'), 'utf8'));
  assert.deepEqual({ method: mid.method, weights: mid.weights, models: mid.models.map((m: { name: string }) => m.name) }, { method: 'average', weights: [0.5, 0.5], models: ['st', 'op'] });
  // The fused models are evaluated on every model's sets.
  assert.deepEqual(Object.keys(metrics('evaluate-fused-fisher').sets).sort(), ['op,original_dev', 'op,synthetic_dev', 'st,original_dev', 'st,synthetic_dev']);

  // `base` pointed at a checkpoint folder: the shortcut models are fine-tuned from it instead.
  const mine = show('base-model.model');
  const status = cli(['status', 'fuse-to-forget.yaml', ...TINY, '--set', `base=${mine}`], { cwd: ws });
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /model@st\n(\s+- .*\n)*\s+- param base changed from \$\{\{ stages\.base-model\.outputs\.model \}\} to /);
  const needs = (extra: string[], stage: string): string[] =>
    JSON.parse(cli(['dag', 'fuse-to-forget.yaml', ...TINY, ...extra, '--format', 'json'], { cwd: ws }).stdout).stages.find((s: { name: string }) => s.name === stage).needs;
  assert.ok(!needs(['--set', `base=${mine}`], 'model@st').includes('base-model'));
  // `models` pointed at fine-tuned folders (here each other's): evaluated, fused and analysed instead.
  const swapped = ['--set', `models.st=${show('model@op.model')}`, '--set', `models.op=${show('model@st.model')}`];
  assert.deepEqual(needs(swapped, 'fused-average'), []);
  assert.ok(!needs(swapped, 'evaluate-model@st').includes('model@st'));
  assert.match(cli(['status', 'fuse-to-forget.yaml', ...TINY, ...swapped], { cwd: ws }).stdout, /evaluate-model@st\n(\s+- .*\n)*\s+- param models changed from \$\{\{ stages\.model\.outputs\.model \}\} to /);
});
