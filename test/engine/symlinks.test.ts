// Symbolic links are followed, not crashed on: a linked dep, a link inside a dep folder, and a
// Hugging Face hub cache snapshot (files that are all links into blobs/) given as model: and
// tokenizer:, in run and status; a dangling or looping link is a located error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync, copyFileSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, runJson, ran, workspace, REPO_ROOT } from '../helpers/cli.js';
import { hashPath } from '../../src/cache/hash.js';

function noTrace(r: { stderr: string }) {
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, 'no stack trace');
}

test('a symlinked dep and a link inside a dep folder are hashed as what they point to', () => {
  const ws = workspace({
    'fisherflow.yaml': `stages:\n  a:\n    run: cat in.txt dir/* > a.txt\n    deps: [in.txt, dir]\n    outs: [a.txt]\n`,
    'real.txt': 'one\n',
    'other.txt': 'two\n',
  });
  symlinkSync('real.txt', join(ws, 'in.txt'));
  mkdirSync(join(ws, 'dir'));
  symlinkSync('../other.txt', join(ws, 'dir', 'linked.txt'));
  assert.deepEqual(ran(runJson(ws)), ['a']);
  assert.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'one\ntwo\n');
  assert.deepEqual(ran(runJson(ws)), [], 'cached');
  // Edit what a link points to: status says which dep changed, run reruns.
  writeFileSync(join(ws, 'other.txt'), 'three\n');
  const st = cli(['status'], { cwd: ws });
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /stale\s+a\n\s+- dep dir changed/);
  assert.deepEqual(ran(runJson(ws)), ['a']);
  assert.equal(readFileSync(join(ws, 'a.txt'), 'utf8'), 'one\nthree\n');
  // A link hashes like a copy of its target: content, not the link.
  assert.equal(hashPath(join(ws, 'in.txt')).hash, hashPath(join(ws, 'real.txt')).hash);
});

test('a dangling link (as the dep, or inside a dep folder) and a link loop are located errors in run and status', () => {
  const ws = workspace({ 'fisherflow.yaml': `stages:\n  a:\n    run: cat in.txt > a.txt\n    deps: [in.txt]\n    outs: [a.txt]\n` });
  symlinkSync('gone.txt', join(ws, 'in.txt'));
  for (const cmd of ['run', 'status']) {
    const r = cli([cmd], { cwd: ws });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /fisherflow\.yaml:4:12: stage 'a': dep 'in\.txt': .*in\.txt is a dangling symbolic link \(→ gone\.txt, which does not exist\)/);
    noTrace(r);
  }
  const inside = workspace({ 'fisherflow.yaml': `stages:\n  a:\n    run: ls d > a.txt\n    deps: [d]\n    outs: [a.txt]\n` });
  mkdirSync(join(inside, 'd'));
  symlinkSync('nowhere', join(inside, 'd', 'x'));
  const r = cli(['status'], { cwd: inside });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /fisherflow\.yaml:4:12: stage 'a': dep 'd': .*d\/x is a dangling symbolic link/);
  const loop = workspace({ 'fisherflow.yaml': `stages:\n  a:\n    run: ls d > a.txt\n    deps: [d]\n    outs: [a.txt]\n` });
  mkdirSync(join(loop, 'd'));
  symlinkSync('..', join(loop, 'd', 'up'));
  const l = cli(['run'], { cwd: loop });
  assert.equal(l.code, 2);
  assert.match(l.stderr, /stage 'a': dep 'd': .*d\/up is a symbolic link to a folder that contains it/);
  noTrace(l);
});

/** A Hugging Face hub cache entry for `files`: blobs/<sha256> and snapshots/<rev>/<name> → ../../blobs/<sha256>. */
function hubSnapshot(hub: string, repo: string, source: string): string {
  const base = join(hub, `models--${repo}`);
  const snap = join(base, 'snapshots', 'a1b2c3');
  mkdirSync(join(base, 'blobs'), { recursive: true });
  mkdirSync(snap, { recursive: true });
  mkdirSync(join(base, 'refs'));
  writeFileSync(join(base, 'refs', 'main'), 'a1b2c3');
  for (const name of readdirSync(source)) {
    const sha = createHash('sha256').update(readFileSync(join(source, name))).digest('hex');
    copyFileSync(join(source, name), join(base, 'blobs', sha));
    symlinkSync(join('..', '..', 'blobs', sha), join(snap, name));
  }
  return snap;
}

test('a Hugging Face hub snapshot (links into blobs/) works as model: and tokenizer:, in run and status', () => {
  const hub = mkdtempSync(join(tmpdir(), 'ff-hub-'));
  const model = hubSnapshot(hub, 'tiny--bert', join(REPO_ROOT, 'test', 'fixtures', 'model', 'tiny-bert'));
  const tok = hubSnapshot(hub, 'tiny--tok', join(REPO_ROOT, 'test', 'fixtures', 'train', 'tiny', 'tokenizer'));
  assert.ok(lstatSync(join(model, 'config.json')).isSymbolicLink());
  const data = join(REPO_ROOT, 'test', 'fixtures', 'model', 'data.jsonl');
  const ws = workspace({
    'fisherflow.yaml': `stages:
  tok:
    uses: tokenize
    with: { data: sents.jsonl, tokenizer: ${tok} }
  fim:
    uses: fim
    with: { model: ${model}, data: ${data}, max_examples: 2, batch_size: 2, backend: cpu }
`,
    'sents.jsonl': '{"sentence": "was a very fun film", "label": 1}\n{"sentence": "plot", "label": 0}\n',
  });
  const r = cli(['run'], { cwd: ws });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  noTrace(r);
  const st = cli(['status'], { cwd: ws, env: { FISHERFLOW_NO_FAST_PATH: '1' } });
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /2 up to date, 0 stale/);
  assert.match(cli(['status'], { cwd: ws }).stdout, /2 up to date, 0 stale/, 'the fast path watches links too');
  // The tokenizer copied into tok's output is real files, not links into the hub cache.
  const out = cli(['show', 'tok.tokenizer'], { cwd: ws }).stdout.trim();
  for (const f of readdirSync(out)) assert.ok(lstatSync(join(out, f)).isFile(), f);
});
