// torch.save files in both formats, read without Python: the legacy format (torch < 1.6) and the
// zip format, from fixtures made with PyTorch (test/fixtures/checkpoints/make_fixtures.py) and from
// two real checkpoints other projects' tools wrote (../shared/external/checkpoints, with the
// tensor sums torch.load gives listed beside them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTorchStateDict } from '../../ml/checkpoint/torch-bin.js';
import { loadCheckpoint } from '../../ml/checkpoint/load.js';
import { StageInputError } from '../../src/stage/api.js';
import { tempDir } from '../helpers/stage-context.js';
import { checkpointFixture, externalCheckpoint } from './paths.js';

const DTYPES: Record<string, string> = { float32: 'F32', int64: 'I64' };

function sumOf(data: Float32Array): number {
  let s = 0;
  for (const v of data) s += v;
  return s;
}

function assertSum(got: number, want: number, what: string, rel: number): void {
  assert.ok(Math.abs(got - want) <= rel * Math.max(1, Math.abs(want)), `${what}: sum ${got}, torch says ${want}`);
}

test('every fixture checkpoint, legacy and zip, reads as torch.load reads it: names, shapes, dtypes, sums', () => {
  const sums = JSON.parse(readFileSync(checkpointFixture('sums.json'), 'utf8')) as Record<string, Record<string, { shape: number[]; dtype: string; sum: number }>>;
  assert.deepEqual(Object.keys(sums).sort(), ['bertmodel-legacy', 'maskedlm-legacy', 'pretraining-zip', 'tiny-bert-legacy']);
  for (const [name, want] of Object.entries(sums)) {
    const got = readTorchStateDict(join(checkpointFixture(name), 'pytorch_model.bin'));
    assert.deepEqual([...got.keys()], Object.keys(want), `${name}: tensor names in the file's order`);
    for (const [k, w] of Object.entries(want)) {
      const t = got.get(k)!;
      assert.deepEqual(t.shape, w.shape, `${name} ${k} shape`);
      assert.equal(t.dtype, DTYPES[w.dtype], `${name} ${k} dtype`);
      assertSum(sumOf(t.data), w.sum, `${name} ${k}`, 1e-5);
    }
  }
  // The MLM decoder is tied to the word embeddings: one storage, read for both.
  const mlm = readTorchStateDict(join(checkpointFixture('maskedlm-legacy'), 'pytorch_model.bin'));
  assert.deepEqual(mlm.get('cls.predictions.decoder.weight')!.data, mlm.get('bert.embeddings.word_embeddings.weight')!.data);
});

/** keys_torch.txt: `NAME\tDTYPE\t[SHAPE]\tsum=S` lines after two header lines. */
function keysTorch(dir: string): Map<string, { dtype: string; shape: number[]; sum: number }> {
  const out = new Map<string, { dtype: string; shape: number[]; sum: number }>();
  for (const line of readFileSync(join(dir, 'keys_torch.txt'), 'utf8').split('\n')) {
    const m = /^(\S+)\t(\w+)\t\[([\d, ]*)\]\tsum=(\S+)$/.exec(line);
    if (m) out.set(m[1], { dtype: m[2], shape: m[3] ? m[3].split(', ').map(Number) : [], sum: Number(m[4]) });
  }
  return out;
}

for (const name of ['camphr-bert-test-legacy', 'camphr-ner-bert-zip']) {
  test(`a real third-party checkpoint (${name}) reads as torch.load reads it`, () => {
    const dir = externalCheckpoint(name);
    const want = keysTorch(dir);
    assert.ok(want.size > 20, `${name}: keys_torch.txt lists its tensors`);
    const got = readTorchStateDict(join(dir, 'pytorch_model.bin'));
    assert.deepEqual([...got.keys()], [...want.keys()]);
    for (const [k, w] of want) {
      const t = got.get(k)!;
      assert.deepEqual(t.shape, w.shape, `${k} shape`);
      assert.equal(t.dtype, DTYPES[w.dtype], `${k} dtype`);
      // keys_torch.txt prints six significant digits.
      assertSum(sumOf(t.data), w.sum, k, 1e-5);
    }
  });
}

test('a fine-tuned checkpoint in the legacy format loads bit for bit as its safetensors twin', () => {
  const legacy = loadCheckpoint(checkpointFixture('tiny-bert-legacy'));
  const st = loadCheckpoint(join(checkpointFixture('..'), 'model', 'tiny-bert'));
  assert.equal(legacy.format, 'pytorch');
  assert.equal(st.format, 'safetensors');
  assert.deepEqual(legacy.missing, []);
  assert.deepEqual([...legacy.tensors.keys()].sort(), [...st.tensors.keys()].sort());
  for (const [n, t] of st.tensors) assert.deepEqual(legacy.tensors.get(n)!.data, t.data, n);
});

test('damaged or foreign weights files are refused naming the file and what it is', () => {
  const dir = tempDir('ff-legacy-bad-');
  const src = join(checkpointFixture('bertmodel-legacy'), 'pytorch_model.bin');
  const bad = join(dir, 'pytorch_model.bin');
  const expectError = (re: RegExp) => assert.throws(() => readTorchStateDict(bad), (e: Error) => e instanceof StageInputError && re.test(e.message) && e.message.includes(bad));

  const bytes = readFileSync(src);
  writeFileSync(bad, bytes.subarray(0, statSync(src).size - 100));
  expectError(/unexpected end of file in storage \d+ \(truncated\?\)/);
  writeFileSync(bad, bytes.subarray(0, 300));
  expectError(/not a readable legacy torch checkpoint/);
  writeFileSync(bad, 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 440473133\n');
  expectError(/a Git LFS pointer, not the weights \(run `git lfs pull`/);
  writeFileSync(bad, 'hello, not weights');
  expectError(/not a PyTorch checkpoint \(neither the zip format of torch >= 1\.6 nor the legacy pickle format\)/);
  copyFileSync(src, bad);
  assert.equal(readTorchStateDict(bad).size, 23);
});
