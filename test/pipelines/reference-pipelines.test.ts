// The shipped pipelines, end to end through the CLI, shrunk by --set so they take seconds:
// the demo (a base BERT, three shortcut BERTs fine-tuned from it, fusion, interpolation, the
// seed's analysis with bootstrap intervals, and the report), then the seed notebook pipeline
// (fisher-overlap.yaml) pointed at the checkpoints the demo's train stage made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cli, workspace, REPO_ROOT } from '../helpers/cli.js';
import { VENDORED_DATA } from './vendored-data.js';

const DATA = join(REPO_ROOT, 'data');
const TINY = [
  ...VENDORED_DATA,
  '--set', 'base_sentences=160',
  '--set', 'train_sentences=120',
  '--set', 'dev_sentences=200',
  '--set', 'base.batch_size=16',
  '--set', 'train.epochs=1',
  '--set', 'train.batch_size=16',
  '--set', 'model.hidden_size=16',
  '--set', 'model.num_hidden_layers=1',
  '--set', 'model.intermediate_size=32',
  '--set', 'examples=24',
  '--set', 'fusion.fisher_examples=16',
  '--set', 'interpolation.alphas=[0,1]',
  '--set', 'chunks=4',
  '--set', 'bootstrap=20',
  // Deliberately untrained: every model stays at its random start, so the report must say so.
  '--set', 'base.learning_rate=1e-12',
  '--set', 'train.learning_rate=1e-12',
];

test('demo.yaml and fisher-overlap.yaml run end to end', { timeout: 600_000 }, () => {
  const ws = workspace({});
  copyFileSync(join(REPO_ROOT, 'pipelines', 'demo.yaml'), join(ws, 'demo.yaml'));
  copyFileSync(join(REPO_ROOT, 'pipelines', 'fisher-overlap.yaml'), join(ws, 'fisher-overlap.yaml'));

  // The suite runs two test files at a time; next to fuse-to-forget's run this takes minutes under load.
  const demo = cli(['run', 'demo.yaml', ...TINY], { cwd: ws, timeoutMs: 540_000 });
  assert.equal(demo.code, 0, demo.stderr + demo.stdout);
  // The accuracy table, the overlaps (4 significant digits, intervals, accuracies, warnings) and the report's URL close the run.
  assert.match(demo.stdout, /model +set +own +average \(Δ\) +fisher \(Δ\)\nst +synthetic_dev/);
  // (Untrained models are all alike: overlaps of 1.000.)
  assert.match(demo.stdout, /\nUNSHARED \(tic-op\) +[01]\.\d{3,4} +\[[01]\.\d{3,4}, [01]\.\d{3,4}\] +tic: synthetic_dev [\d.]+ % \(AT CHANCE\)/);
  assert.match(demo.stdout, /\nSHARED \(ORIG, op-st\) +[01]\.\d{3,4} +\[[01]\.\d{3,4}, [01]\.\d{3,4}\] +op: /);
  assert.match(demo.stdout, /WARNING: these models are at chance.*\n(?: {2}.*\n)* {2}st on synthetic_dev: [\d.]+ % \(95 % CI/);
  const latest = join(ws, 'reports', 'latest.html');
  assert.ok(demo.stdout.includes(`Report: ${pathToFileURL(latest).href}`), demo.stdout);
  // The published copy is the report: at-chance warnings beside the overlaps, intervals, per-epoch charts.
  const html = readFileSync(latest, 'utf8');
  assert.match(html, /id="at-chance"/);
  assert.match(html, /<li>tic on original_dev: [\d.]+ % \(95 % CI/);
  assert.equal((html.match(/<th>95% interval<\/th>/g) ?? []).length, 3);
  assert.match(html, /<td class="num">\[[01]\.\d{3,4}, [01]\.\d{3,4}\]<\/td>/);
  assert.match(html, /class="warn"[^>]*>⚠ synthetic_dev/);
  for (const chart of ['interpolation', 'layer-bars-per-pair', 'epoch-accuracy', 'epoch-loss', 'dag']) assert.match(html, new RegExp(`data-chart="${chart}"`), chart);
  assert.match(html, /project commit|fisherflow/);
  // Each shortcut model is fine-tuned from the one base model (the paper's shared pre-trained BERT).
  const demoLock = JSON.parse(readFileSync(join(ws, 'demo.lock'), 'utf8'));
  for (const k of ['st', 'op', 'tic']) assert.equal(demoLock.stages[`model@${k}`].inputs.model, 'stages.base-model.outputs.model', k);
  // show report: the same report, in the store.
  const shown = cli(['show', 'report', 'demo.yaml', ...TINY], { cwd: ws });
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(readFileSync(shown.stdout.trim(), 'utf8'), html);
  assert.ok(statSync(shown.stdout.trim()).isFile());
  // Second run: everything cached.
  const again = cli(['run', 'demo.yaml', ...TINY, '--json'], { cwd: ws });
  const statuses = JSON.parse(again.stdout).stages.map((s: { status: string }) => s.status);
  assert.ok(statuses.every((s: string) => s === 'cached'), again.stdout);

  // The notebook pipeline on the checkpoints the train stage wrote.
  const models: string[] = [];
  for (const k of ['tic', 'op', 'st']) {
    const p = cli(['show', `model@${k}.model`, 'demo.yaml', ...TINY], { cwd: ws }).stdout.trim();
    assert.ok(existsSync(join(p, 'config.json')) && existsSync(join(p, 'model.safetensors')), p);
    models.push('--set', `models.${k}=${p}`);
  }
  const nb = ['--set', `data=${join(DATA, 'sst2', 'dev.tsv')}`, '--set', `tokenizer=${join(DATA, 'bert-base-cased')}`, '--set', 'examples=24', ...models];
  const status = cli(['status', 'fisher-overlap.yaml', ...nb], { cwd: ws });
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /stale {7}fisher-shortcut@tic/);
  const run = cli(['run', 'fisher-overlap.yaml', ...nb], { cwd: ws, timeoutMs: 540_000 });
  assert.equal(run.code, 0, run.stderr + run.stdout);
  assert.match(run.stdout, /UNSHARED \(TiC-OP\) OVERLAP: [01](?:\.\d+)?\nSHARED \(ORIG\) OVERLAP: [01](?:\.\d+)?/);
  const lock = JSON.parse(readFileSync(join(ws, 'fisher-overlap.lock'), 'utf8'));
  assert.ok(lock.stages['fisher-orig@tic'].outs.fim.hash);
});
