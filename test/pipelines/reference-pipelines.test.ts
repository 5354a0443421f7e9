// The shipped pipelines, end to end through the CLI, shrunk by --set so they take seconds:
// the demo (train three shortcut BERTs, then the seed's analysis and the report), then the seed
// notebook pipeline (fisher-overlap.yaml) pointed at the checkpoints the demo's train stage made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, workspace, REPO_ROOT } from '../helpers/cli.js';
import { VENDORED_DATA } from './vendored-data.js';

const DATA = join(REPO_ROOT, 'data');
const TINY = [
  ...VENDORED_DATA,
  '--set', 'train_sentences=120',
  '--set', 'train.epochs=1',
  '--set', 'train.batch_size=16',
  '--set', 'model.hidden_size=16',
  '--set', 'model.num_hidden_layers=1',
  '--set', 'model.intermediate_size=32',
  '--set', 'examples=24',
];

test('demo.yaml and fisher-overlap.yaml run end to end', { timeout: 600_000 }, () => {
  const ws = workspace({});
  copyFileSync(join(REPO_ROOT, 'pipelines', 'demo.yaml'), join(ws, 'demo.yaml'));
  copyFileSync(join(REPO_ROOT, 'pipelines', 'fisher-overlap.yaml'), join(ws, 'fisher-overlap.yaml'));

  // The suite runs two test files at a time; next to fuse-to-forget's run this takes minutes under load.
  const demo = cli(['run', 'demo.yaml', ...TINY], { cwd: ws, timeoutMs: 540_000 });
  assert.equal(demo.code, 0, demo.stderr + demo.stdout);
  // The notebook's printout and the report's path close the run.
  assert.match(demo.stdout, /TiC OP MODEL\nUNSHARED \(TiC-OP\) OVERLAP: 0\.\d+\nSHARED \(ORIG\) OVERLAP: 0\.\d+\nTiC ST MODEL\nUNSHARED \(TiC-ST\) OVERLAP: 0\.\d+/);
  const report = /Report: (.*report\.html)/.exec(demo.stdout)?.[1];
  assert.ok(report && existsSync(join(ws, report)) || (report && existsSync(report)), `report path in ${demo.stdout}`);
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
  assert.match(run.stdout, /UNSHARED \(TiC-OP\) OVERLAP: 0\.\d+\nSHARED \(ORIG\) OVERLAP: 0\.\d+/);
  const lock = JSON.parse(readFileSync(join(ws, 'fisher-overlap.lock'), 'utf8'));
  assert.ok(lock.stages['fisher-orig@tic'].outs.fim.hash);
});
