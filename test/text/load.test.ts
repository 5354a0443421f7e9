// The `load` stage: formats, gzip, HF-exact shuffle/take, and errors that name file, line and column.
// Fixture dev-shuffle42-take200.json: /usr/bin/python3 test/fixtures/text/make_load_reference.py
// (numpy default_rng(42).permutation(872)[:200] over data/sst2/dev.tsv, as HF shuffle(seed=42)).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import load, { type LoadInputs } from '../../stages/load/stage.js';
import { readJsonl } from '../../ml/jsonl/index.js';
import { StageInputError } from '../../src/stage/api.js';
import { makeStageContext, tempDir } from '../helpers/stage-context.js';
import { fixturePath, repoPath } from './repo-root.js';

const DEV = repoPath('data', 'sst2', 'dev.tsv');

async function runLoad(inputs: LoadInputs): Promise<any[]> {
  const ctx = makeStageContext(inputs);
  await load.run(ctx);
  return readJsonl(join(ctx.outDir, 'data.jsonl'));
}

function file(name: string, content: string | Buffer): string {
  const p = join(tempDir('ff-load-'), name);
  writeFileSync(p, content);
  return p;
}

test('shuffle_seed 42, take 200 on SST-2 dev gives the seed notebook\'s 200 examples in order', async () => {
  const rows = await runLoad({ path: DEV, shuffle_seed: 42, take: 200 });
  const want = JSON.parse(readFileSync(fixturePath('dev-shuffle42-take200.json'), 'utf8'));
  assert.deepEqual(rows, want);
});

test('the whole dev file loads with idx = row index after the header', async () => {
  const rows = await runLoad({ path: DEV });
  assert.equal(rows.length, 872);
  assert.deepEqual(rows[0], { idx: 0, sentence: "it 's a charming and often affecting journey . ", label: 1 });
  assert.equal(rows.filter((r) => r.label === 1).length, 444);
});

test('gzipped train set reads transparently; split and filter apply before shuffle', async () => {
  const rows = await runLoad({ path: repoPath('data', 'sst2', 'train.tsv.gz'), split: '[:1000]', filter: { label: 0 }, shuffle_seed: 1, take: 10 });
  assert.equal(rows.length, 10);
  for (const r of rows) { assert.equal(r.label, 0); assert.ok(r.idx < 1000); }
  const all = await runLoad({ path: repoPath('data', 'sst2', 'train.tsv.gz') });
  assert.equal(all.length, 67349);
  assert.equal(all.filter((r) => r.label === 1).length, 37569);
});

test('CSV with quotes and JSONL with column mapping; extra columns are kept', async () => {
  const csv = file('x.csv', 'text,y,source\n"hello, ""world""",1,a\n"two\nlines",0,b\n');
  assert.deepEqual(await runLoad({ path: csv, columns: { text: 'text', label: 'y' } }), [
    { idx: 0, sentence: 'hello, "world"', label: 1, source: 'a' },
    { idx: 1, sentence: 'two\nlines', label: 0, source: 'b' },
  ]);
  const jl = file('x.jsonl', '{"t":"a","l":1}\n\n{"t":"b","l":0,"extra":[1]}\n');
  assert.deepEqual(await runLoad({ path: jl, columns: { text: 't', label: 'l' } }), [
    { idx: 0, sentence: 'a', label: 1 },
    { idx: 1, sentence: 'b', label: 0, extra: [1] },
  ]);
  const gz = file('x.jsonl.gz', gzipSync('{"sentence":"z","label":2}\n'));
  assert.deepEqual(await runLoad({ path: gz }), [{ idx: 0, sentence: 'z', label: 2 }]);
});

test('Parquet (as the HF hub stores SST-2: idx int32, sentence string, label int64)', async () => {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'idx', data: [0, 1, 2], type: 'INT32' },
      { name: 'sentence', data: ['a b ', 'c ', 'd'], type: 'STRING' },
      { name: 'label', data: [1n, 0n, 1n], type: 'INT64' },
    ],
  });
  const p = file('validation.parquet', Buffer.from(buf));
  assert.deepEqual(await runLoad({ path: p, shuffle_seed: 42, take: 2 }), [
    { idx: 2, sentence: 'd', label: 1 },
    { idx: 1, sentence: 'c ', label: 0 },
  ]); // default_rng(42).permutation(3) is [2, 1, 0]
  await rejects({ path: file('broken.parquet', 'not parquet') }, /broken\.parquet: not a readable Parquet file/);
});

test('unlabelled test files load with label -1', async () => {
  const tsv = file('test.tsv', 'index\tsentence\n0\tfoo\n1\tbar\n');
  assert.deepEqual(await runLoad({ path: tsv, columns: { label: null } }), [
    { idx: 0, sentence: 'foo', label: -1, index: '0' },
    { idx: 1, sentence: 'bar', label: -1, index: '1' },
  ]);
});

async function rejects(inputs: LoadInputs, pattern: RegExp): Promise<void> {
  await assert.rejects(runLoad(inputs), (e: unknown) => {
    assert.ok(e instanceof StageInputError, `expected StageInputError, got ${e}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

test('bad input is reported with file, line and column', async () => {
  await rejects({ path: '/nonexistent/dev.tsv' }, /\/nonexistent\/dev\.tsv does not exist/);
  const tsv = file('bad.tsv', 'sentence\tlabel\ngood\t1\nbad\tpositive\n');
  await rejects({ path: tsv }, /bad\.tsv: line 3, column "label": label "positive" is not an integer class/);
  await rejects({ path: tsv, columns: { text: 'text' } }, /bad\.tsv: no column "text" \(with\.columns\.text\); the file has: sentence, label/);
  await rejects({ path: file('short.tsv', 'sentence\tlabel\nonly one field\n') }, /short\.tsv: line 2: 1 tab-separated fields, expected 2/);
  await rejects({ path: file('empty.tsv', 'sentence\tlabel\n') }, /empty\.tsv: no rows left to load \(empty data set/);
  await rejects({ path: DEV, take: 873 }, /with\.take: 873 is larger than the 872 rows/);
  await rejects({ path: file('x.jsonl', '{"sentence":"a","label":1}\n{oops\n') }, /x\.jsonl: line 2: not valid JSON/);
  await rejects({ path: file('f.jsonl', '{"sentence":"a","label":1.5}\n') }, /line 1, column "label": label 1\.5 is not an integer class/);
  await rejects({ path: file('data.txt', 'x') }, /cannot tell the format/);
  await rejects({ path: DEV, filter: { polarity: 1 } }, /with\.filter\.polarity: no such field in .*dev\.tsv; rows have: idx, sentence, label/);
});

test('check() names the input', () => {
  assert.deepEqual(load.check!({ path: 'x', split: 'train', take: 0 }), ['with.split: "train" is not a slice like "[:1000]" or "[10%:20%]"', 'with.take: expected a positive integer']);
});
