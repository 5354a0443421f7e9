// Models and tokenizers by Hugging Face id, offline: resolved to the snapshot of a local hub cache
// (a fake one here, laid out as huggingface_hub writes it: refs/main, snapshots/<rev>/ of links
// into blobs/), keyed by the id and the snapshot's content, a miss explained with where it looked
// and how to download, the vendored bert-base-cased tokenizer as the tokenizer's fallback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, REPO_ROOT, workspace } from '../helpers/cli.js';
import { tempDir } from '../helpers/stage-context.js';
import { hubCacheDir } from '../../src/pipeline/hub.js';

const TINY_TOKENIZER = join(REPO_ROOT, 'test', 'fixtures', 'checkpoints', 'bertmodel-legacy'); // vocab.txt only, 21 tokens
const FINE_TUNED = join(REPO_ROOT, 'test', 'fixtures', 'model', 'tiny-bert');

/** Put `files` (a folder) into `hub` as revision `rev` of `id`, and point refs/main at it. */
function addSnapshot(hub: string, id: string, rev: string, files: string): string {
  const repo = join(hub, `models--${id.split('/').join('--')}`);
  const snap = join(repo, 'snapshots', rev);
  mkdirSync(snap, { recursive: true });
  mkdirSync(join(repo, 'blobs'), { recursive: true });
  mkdirSync(join(repo, 'refs'), { recursive: true });
  for (const f of readdirSync(files)) {
    const bytes = readFileSync(join(files, f));
    const blob = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(repo, 'blobs', blob), bytes);
    symlinkSync(join('..', '..', 'blobs', blob), join(snap, f));
  }
  writeFileSync(join(repo, 'refs', 'main'), rev);
  return snap;
}

const DEV = 'sentence\tlabel\nthe film was very dull\t0\n';
const PIPELINE = `stages:
  rows:
    uses: load
    with: { path: dev.tsv }
  tok:
    uses: tokenize
    with: { data: "\${{ stages.rows.outputs.data }}", tokenizer: bert-base-cased }
`;

function ids(ws: string, env: NodeJS.ProcessEnv): number[] {
  const r = cli(['show', 'tok.data'], { cwd: ws, env });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(readFileSync(r.stdout.trim(), 'utf8').split('\n')[0]).input_ids;
}

test('a tokenizer id resolves to the snapshot refs/main names; the key follows its content, not where the cache lives', () => {
  const hub = tempDir('ff-hub-');
  addSnapshot(hub, 'bert-base-cased', 'aaaa1111', TINY_TOKENIZER);
  const ws = workspace({ 'fisherflow.yaml': PIPELINE, 'dev.tsv': DEV });
  const env = { HF_HUB_CACHE: hub };
  const first = cli(['run'], { cwd: ws, env });
  assert.equal(first.code, 0, first.stderr);
  assert.doesNotMatch(first.stdout, /vendored/);
  // The snapshot's (lower-casing, 21-token) vocabulary, not the vendored cased one: [CLS] the film was very dull [SEP].
  assert.deepEqual(ids(ws, env), [2, 5, 7, 14, 15, 18, 3]);
  const lock = readFileSync(join(ws, 'fisherflow.lock'), 'utf8');
  assert.match(lock, /"hf:bert-base-cased": "[0-9a-f]{64}"/);
  assert.doesNotMatch(lock, /huggingface|ff-hub-/, 'no machine path in the lock file');

  // The same snapshot found through HF_HOME (another place on another machine): the same key.
  const home = tempDir('ff-hf-home-');
  renameSync(hub, join(home, 'hub'));
  assert.equal(hubCacheDir({ HF_HOME: home }).dir, join(home, 'hub'));
  const moved = cli(['status'], { cwd: ws, env: { HF_HUB_CACHE: '', HF_HOME: home } });
  assert.match(moved.stdout, /2 up to date, 0 stale/, moved.stdout + moved.stderr);

  // A new download (another revision, other content): stale, and why.
  addSnapshot(join(home, 'hub'), 'bert-base-cased', 'bbbb2222', join(REPO_ROOT, 'data', 'bert-base-cased'));
  const after = cli(['status'], { cwd: ws, env: { HF_HUB_CACHE: '', HF_HOME: home } });
  assert.match(after.stdout, /stale {7}tok\n {14}- dep hf:bert-base-cased changed/, after.stdout);
});

test('not in the cache: the tokenizer of bert-base-cased falls back to the vendored copy, and says so; a model never does', () => {
  const empty = tempDir('ff-hub-empty-');
  const ws = workspace({ 'fisherflow.yaml': PIPELINE, 'dev.tsv': DEV });
  const r = cli(['run'], { cwd: ws, env: { HF_HUB_CACHE: empty } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`tokenizer 'bert-base-cased': not in the Hugging Face cache \\(${empty}/models--bert-base-cased does not exist\\); using the tokenizer files vendored with fisherflow \\(\\S+/data/bert-base-cased\\)\\. \`huggingface-cli download bert-base-cased\` to use the hub's`));
  assert.equal(r.stdout.match(/vendored/g)!.length, 1, 'said once');
  assert.doesNotMatch(cli(['run'], { cwd: ws, env: { HF_HUB_CACHE: empty } }).stdout, /vendored/, 'not by a run that reuses every result');
  // The vendored cased vocabulary: [CLS] the film was very dull [SEP].
  assert.deepEqual(ids(ws, { HF_HUB_CACHE: empty }), [101, 1103, 1273, 1108, 1304, 10884, 102]);

  writeFileSync(join(ws, 'fisherflow.yaml'), `stages:\n  f:\n    uses: fim\n    with: { model: bert-base-cased, data: d.jsonl }\n`);
  writeFileSync(join(ws, 'd.jsonl'), '');
  const miss = cli(['status'], { cwd: ws, env: { HF_HUB_CACHE: empty } });
  assert.equal(miss.code, 2);
  assert.equal(
    miss.stderr.trim(),
    `fisherflow: ${ws}/fisherflow.yaml:4:20: stage 'f': input 'model': 'bert-base-cased' is not a local path and not in the Hugging Face cache: looked in ${empty} (HF_HUB_CACHE): ${empty}/models--bert-base-cased does not exist. fisherflow never downloads; fetch it once with \`huggingface-cli download bert-base-cased\` (or set HF_HUB_CACHE / HF_HOME to the cache that holds it), or give a local folder`,
  );
});

test('org/name model ids, refs/main pointing nowhere, and a local folder that wins over an id', () => {
  const hub = tempDir('ff-hub-org-');
  const snap = addSnapshot(hub, 'someorg/tiny-bert', 'cccc3333', FINE_TUNED);
  // fim, evaluate and merge (models and base) all take an id.
  const ws = workspace({
    'fisherflow.yaml': `stages:
  f:
    uses: fim
    with: { model: someorg/tiny-bert, data: d.jsonl, max_examples: 2, backend: wasm, workers: 0 }
  e:
    uses: evaluate
    with: { model: someorg/tiny-bert, data: d.jsonl, backend: wasm }
  m:
    uses: merge
    with: { method: task_arithmetic, models: [someorg/tiny-bert], base: someorg/tiny-bert }
`,
  });
  cpSync(join(REPO_ROOT, 'test', 'fixtures', 'model', 'data.jsonl'), join(ws, 'd.jsonl'));
  const ok = cli(['run'], { cwd: ws, env: { HF_HUB_CACHE: hub } });
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  const log = cli(['logs', 'f'], { cwd: ws, env: { HF_HUB_CACHE: hub } });
  assert.ok(log.stdout.includes(`Fisher of ${snap} over 2 examples`), log.stdout);
  const lock = readFileSync(join(ws, 'fisherflow.lock'), 'utf8');
  assert.equal(lock.match(/"hf:someorg\/tiny-bert"/g)?.length, 3, lock);

  writeFileSync(join(hub, 'models--someorg--tiny-bert', 'refs', 'main'), 'dddd4444\n');
  const dangling = cli(['status'], { cwd: ws, env: { HF_HUB_CACHE: hub } });
  assert.match(dangling.stderr, /'someorg\/tiny-bert' is not a local path and not in the Hugging Face cache: looked in \S+ \(HF_HUB_CACHE\): refs\/main names dddd4444, but \S+\/snapshots\/dddd4444 does not exist\./);

  // A folder of that name beside the pipeline is a path, as for from_pretrained.
  cpSync(FINE_TUNED, join(ws, 'someorg', 'tiny-bert'), { recursive: true });
  const local = cli(['status'], { cwd: ws, env: { HF_HUB_CACHE: hub } });
  assert.equal(local.code, 0, local.stderr);
  assert.match(local.stdout, /stale {7}f\n {14}- dep hf:someorg\/tiny-bert removed\n {14}- new dep someorg\/tiny-bert\n/);
});
