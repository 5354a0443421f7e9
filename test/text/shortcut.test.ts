// The `shortcut` stage against CPython.
// Fixtures (see the scripts' docstrings):
//   npx tsx test/fixtures/text/dump-shortcut-inputs.ts --write → dev200-tokens.json, create-inputs.json
//   /usr/bin/python3 test/fixtures/text/make_shortcut_reference.py
//     → shortcut-reverse-reference.json: the seed notebook's own _st/_op/_tic_shortcut, copied
//       verbatim, under CPython's random with random.seed(42), on the 200 selected dev examples;
//     → shortcut-create-reference.json: create_datasets following SHORTCUTS.md (all ten kinds and
//       two mixtures) on a small slice, with numpy for the HF splits.
// The scripts' tokenizer is a stub (ids 28996-28998) whose decode is the independent Python
// BertTokenizerFast decode, so sentences are compared too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import shortcut, { type ShortcutInputs } from '../../stages/shortcut/stage.js';
import { pyInsert } from '../../stages/shortcut/kinds.js';
import { readJsonl, writeJsonl } from '../../ml/jsonl/index.js';
import { StageInputError } from '../../src/stage/api.js';
import { makeStageContext, tempDir } from '../helpers/stage-context.js';
import { fixturePath, repoPath } from './repo-root.js';

const BERT = repoPath('data', 'bert-base-cased');
const fixture = (name: string): any => JSON.parse(readFileSync(fixturePath(name), 'utf8'));

function rowsFile(rows: Array<{ idx: number; sentence: string; label: number }>): string {
  const p = join(tempDir('ff-sc-'), 'data.jsonl');
  writeJsonl(p, rows.map(({ idx, sentence, label }) => ({ idx, sentence, label })));
  return p;
}

async function runStage(inputs: ShortcutInputs): Promise<Record<string, any[]>> {
  const ctx = makeStageContext(inputs);
  await shortcut.run(ctx);
  const out: Record<string, any[]> = {};
  for (const [name, spec] of Object.entries(shortcut.outputs(inputs))) out[name] = readJsonl(join(ctx.outDir, spec.path));
  return out;
}

test('pyInsert follows list.insert', () => {
  const a = [1, 2, 3];
  pyInsert(a, -1, 9); assert.deepEqual(a, [1, 2, 9, 3]);
  pyInsert(a, -10, 8); assert.deepEqual(a, [8, 1, 2, 9, 3]);
  pyInsert(a, 99, 7); assert.deepEqual(a, [8, 1, 2, 9, 3, 7]);
});

const dev200 = fixture('dev200-tokens.json');
const reverseRef = fixture('shortcut-reverse-reference.json');

for (const kind of ['st', 'op', 'tic'] as const) {
  test(`reverse ${kind} (seed_compat) equals the seed's Python on the 200 selected dev examples`, async () => {
    const { data } = await runStage({ mode: 'reverse', kind, data: rowsFile(dev200), tokenizer: BERT, seed: 42, seed_compat: true });
    const want = reverseRef[kind];
    assert.equal(data!.length, 200);
    data!.forEach((row, i) => {
      assert.deepEqual(row.tokens, want[i].tokens, `tokens of example ${i}`);
      assert.equal(row.label, want[i].label, `label of example ${i}`);
      assert.equal(row.idx, want[i].idx);
      assert.equal(row.sentence, want[i].sentence, `sentence of example ${i}`);
    });
  });
}

test('reverse tic without seed_compat flips labels; insertions are the same', async () => {
  const { data } = await runStage({ mode: 'reverse', kind: 'tic', data: rowsFile(dev200), tokenizer: BERT });
  data!.forEach((row, i) => {
    assert.equal(row.label, dev200[i].label === 0 ? 1 : 0);
    const shortcutToken = row.label === 0 ? 28996 : 28997;
    assert.equal(row.tokens.filter((t: number) => t === shortcutToken).length, 1);
    assert.equal(row.tokens.length, dev200[i].tokens.length + 2);
  });
  // With seed_compat every label is 1, as in the seed.
  assert.ok(reverseRef.tic.every((r: any) => r.label === 1));
});

const createInputs = fixture('create-inputs.json');
const createRef = fixture('shortcut-create-reference.json');

test('create equals create_datasets of SHORTCUTS.md for all ten kinds and two mixtures', async () => {
  const train = rowsFile(createInputs.train);
  const validation = rowsFile(createInputs.validation);
  const testFile = rowsFile(createInputs.test);
  for (const c of createRef) {
    const out = await runStage({ mode: 'create', kind: c.kind, weights: c.weights, train, validation, test: testFile, tokenizer: BERT, seed: 123 });
    for (const split of ['train', 'synthetic_dev', 'original_dev', 'synthetic_test', 'original_test']) {
      assert.deepEqual(out[split], c.result[split], `${JSON.stringify(c.kind)} ${split}`);
    }
  }
});

test('create without test writes train and dev splits only', async () => {
  const inputs: ShortcutInputs = { mode: 'create', kind: 'st', train: rowsFile(createInputs.train), validation: rowsFile(createInputs.validation), tokenizer: BERT };
  assert.deepEqual(Object.keys(shortcut.outputs(inputs)), ['train', 'synthetic_dev', 'original_dev']);
  const out = await runStage(inputs);
  assert.equal(out.train!.length, 90);
  assert.equal(out.synthetic_dev!.length + out.original_dev!.length, 30);
  // ceil(test_size * n) rows form the original part, with test_size = 0.2 / 1.2 = 0.16666666666666669
  // in floating point: 30 * that is 5.000000000000001, so 6 of the 30 dev rows (as in Python).
  assert.equal(out.original_dev!.length, 6);
  assert.ok(out.synthetic_dev!.every((r) => r.tokens.some((t: number) => t >= 28996)));
});

test('the tokenize stage\'s tokenizer output folder (added tokens inside) is accepted', async () => {
  const dir = tempDir('ff-tokdir-');
  const { BertTokenizer } = await import('../../ml/tokenizer/index.js');
  BertTokenizer.load(BERT, { addTokens: ['zeroa', 'onea', 'synt'] }).save(dir);
  const { data } = await runStage({ mode: 'reverse', kind: 'st', data: rowsFile(dev200), tokenizer: dir, add_tokens: [], seed: 42 });
  assert.deepEqual(data!.map((r) => r.tokens), reverseRef.st.map((r: any) => r.tokens));
});

async function rejects(inputs: ShortcutInputs, pattern: RegExp): Promise<void> {
  await assert.rejects(runStage(inputs), (e: unknown) => {
    assert.ok(e instanceof StageInputError, `expected StageInputError, got ${e}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

test('bad input names the input, file and row', async () => {
  const data = rowsFile(dev200.slice(0, 3));
  await rejects({ mode: 'reverse', kind: 'xor', data, tokenizer: BERT }, /with\.kind: unknown shortcut kind "xor" for mode reverse; expected one of st, op, tic/);
  await rejects({ mode: 'create', kind: ['st', 'bogus'], train: data, validation: data, tokenizer: BERT }, /with\.kind: unknown shortcut kind "bogus"/);
  await rejects({ mode: 'create', kind: ['st', 'op'], weights: [1], train: data, validation: data, tokenizer: BERT }, /with\.weights: 1 weights for 2 kinds/);
  await rejects({ mode: 'reverse', kind: 'tic', data, tokenizer: BERT, add_tokens: [] }, /shortcut tokens zeroa, onea, synt are missing from the tokenizer/);
  await rejects({ mode: 'reverse', kind: 'st', data, tokenizer: BERT, add_tokens: ['zeroa'] }, /shortcut tokens onea are missing from the tokenizer/);
  await rejects({ mode: 'reverse', kind: 'st', data: '/nonexistent/x.jsonl', tokenizer: BERT }, /\/nonexistent\/x\.jsonl does not exist/);
  await rejects({ mode: 'reverse', kind: 'st', data, tokenizer: '/nonexistent/tok' }, /with\.tokenizer: .*\/nonexistent\/tok/);
  const bad = join(tempDir('ff-bad-'), 'bad.jsonl');
  writeFileSync(bad, '{"idx":0,"sentence":"a","label":1}\n{"idx":1,"sentence":"b","label":"x"}\n');
  await rejects({ mode: 'reverse', kind: 'st', data: bad, tokenizer: BERT }, /bad\.jsonl: row 2: column "label" is "x", expected an integer class/);
  const empty = join(tempDir('ff-empty-'), 'empty.jsonl');
  writeFileSync(empty, '');
  await rejects({ mode: 'reverse', kind: 'st', data: empty, tokenizer: BERT }, /empty\.jsonl has no rows \(empty data set\)/);
  await rejects({ mode: 'create', kind: 'st', train: rowsFile(dev200.slice(0, 1)), validation: data, tokenizer: BERT }, /with\.train: too few rows to split into synthetic and original parts \(with n_samples=1/);
  assert.ok(existsSync(BERT));
});
