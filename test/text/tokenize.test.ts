// The `tokenize` stage: rows and tokenizer folder. Token ids are checked against the independent
// reference (tokenizer-reference.json, see tokenizer.test.ts) for all 872 dev sentences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tokenize, { type TokenizeInputs } from '../../stages/tokenize/stage.js';
import load from '../../stages/load/stage.js';
import { readJsonl } from '../../ml/jsonl/index.js';
import { BertTokenizer } from '../../ml/tokenizer/index.js';
import { StageInputError } from '../../src/stage/api.js';
import { makeStageContext, tempDir } from '../helpers/stage-context.js';
import { fixturePath, repoPath } from './repo-root.js';

const BERT = repoPath('data', 'bert-base-cased');

async function loadDev(): Promise<string> {
  const ctx = makeStageContext({ path: repoPath('data', 'sst2', 'dev.tsv') });
  await load.run(ctx);
  return join(ctx.outDir, 'data.jsonl');
}

async function runTokenize(inputs: TokenizeInputs): Promise<{ rows: any[]; outDir: string }> {
  const ctx = makeStageContext(inputs);
  await tokenize.run(ctx);
  return { rows: readJsonl(join(ctx.outDir, 'data.jsonl')), outDir: ctx.outDir };
}

test('load → tokenize of SST-2 dev gives the reference ids and the row contract', async () => {
  const ref = JSON.parse(readFileSync(fixturePath('tokenizer-reference.json'), 'utf8'));
  const { rows, outDir } = await runTokenize({ data: await loadDev(), tokenizer: BERT, add_tokens: ['zeroa', 'onea', 'synt'] });
  assert.equal(rows.length, 872);
  rows.forEach((r, i) => {
    assert.deepEqual(Object.keys(r), ['idx', 'sentence', 'label', 'input_ids', 'token_type_ids', 'attention_mask', 'labels']);
    assert.equal(r.idx, i);
    assert.deepEqual(r.input_ids, ref.rows[i].ids);
    assert.equal(r.labels, r.label);
    assert.equal(r.attention_mask.length, r.input_ids.length);
  });
  const tokDir = join(outDir, 'tokenizer');
  assert.deepEqual(readdirSync(tokDir).sort(), ['added_tokens.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']);
  const again = BertTokenizer.load(tokDir);
  assert.equal(again.vocabSize, 28999);
  assert.equal(again.tokenToId('onea'), 28997);
});

test('max_length truncates, keeping [CLS] and [SEP]', async () => {
  const p = join(tempDir('ff-tk-'), 'd.jsonl');
  writeFileSync(p, JSON.stringify({ idx: 7, sentence: 'one two three four five six', label: 1 }) + '\n');
  const { rows } = await runTokenize({ data: p, tokenizer: BERT, max_length: 4 });
  assert.equal(rows[0].input_ids.length, 4);
  assert.equal(rows[0].input_ids[0], 101);
  assert.equal(rows[0].input_ids[3], 102);
  const { rows: full } = await runTokenize({ data: p, tokenizer: BERT, max_length: 4, truncation: false });
  assert.equal(full[0].input_ids.length, 8);
});

test('bad input: missing tokenizer, missing column, empty data', async () => {
  const bad = async (inputs: TokenizeInputs, re: RegExp) => assert.rejects(runTokenize(inputs), (e: unknown) => e instanceof StageInputError && re.test((e as Error).message));
  const dir = tempDir('ff-tk-');
  const noSentence = join(dir, 'a.jsonl');
  writeFileSync(noSentence, '{"idx":0,"text":"x","label":0}\n');
  await bad({ data: noSentence, tokenizer: BERT }, /a\.jsonl: row 1: column "sentence" missing/);
  const empty = join(dir, 'e.jsonl');
  writeFileSync(empty, '\n');
  await bad({ data: empty, tokenizer: BERT }, /has no rows \(empty data set\)/);
  await bad({ data: noSentence, tokenizer: dir }, /with\.tokenizer: .*no tokenizer\.json or vocab\.txt/);
  await bad({ data: noSentence, tokenizer: BERT, max_length: 1 }, /with\.max_length/);
});
