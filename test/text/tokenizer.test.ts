// ml/tokenizer against an independent reference for all 872 SST-2 dev sentences (+ edge cases).
// Fixture: /usr/bin/python3 test/fixtures/text/make_tokenizer_reference.py > test/fixtures/text/tokenizer-reference.json
// That script is a from-scratch Python re-implementation of Google's BERT tokenization.py
// (BasicTokenizer + WordpieceTokenizer) plus HF's added-token splitting and BertTokenizerFast's
// decode; transformers/tokenizers are not installable here (no PyPI, not in Debian).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { BertTokenizer } from '../../ml/tokenizer/index.js';
import { tempDir } from '../helpers/stage-context.js';
import { fixturePath, repoPath } from './repo-root.js';

const BERT = repoPath('data', 'bert-base-cased');
const ADDED = ['zeroa', 'onea', 'synt'];
const ref = JSON.parse(readFileSync(fixturePath('tokenizer-reference.json'), 'utf8')) as {
  n_dev: number;
  rows: Array<{ text: string; ids: number[]; decoded: string; inserted_decoded: string }>;
};

test('added tokens get ids 28996-28998 and vocabSize counts them', () => {
  const tok = BertTokenizer.load(BERT, { addTokens: ADDED });
  assert.deepEqual(ADDED.map((t) => tok.tokenToId(t)), [28996, 28997, 28998]);
  assert.equal(tok.vocabSize, 28999);
  assert.equal(BertTokenizer.load(BERT).vocabSize, 28996);
  assert.deepEqual(tok.encode('the onea movie').inputIds, [101, 1103, 28997, 2523, 102]);
});

test('encode and decode equal the reference on all 872 SST-2 dev sentences and edge cases', () => {
  const tok = BertTokenizer.load(BERT, { addTokens: ADDED });
  assert.equal(ref.n_dev, 872);
  ref.rows.forEach((row, k) => {
    const enc = tok.encode(row.text);
    assert.deepEqual(enc.inputIds, row.ids, `ids of row ${k}: ${JSON.stringify(row.text)}`);
    assert.deepEqual(enc.tokenTypeIds, row.ids.map(() => 0));
    assert.deepEqual(enc.attentionMask, row.ids.map(() => 1));
    assert.equal(tok.decode(row.ids, { skipSpecialTokens: true }), row.decoded, `decode of row ${k}`);
    const ins = [...row.ids];
    ins.splice(k % ins.length, 0, 28996 + (k % 3));
    assert.equal(tok.decode(ins, { skipSpecialTokens: true }), row.inserted_decoded, `decode with insertion, row ${k}`);
  });
});

test('chunk-by-chunk encoding equals the library on the whole text (whitespace and control-char edge cases)', () => {
  const tok = BertTokenizer.load(BERT, { addTokens: ADDED });
  const tj = JSON.parse(readFileSync(join(BERT, 'tokenizer.json'), 'utf8'));
  tj.truncation = null;
  ADDED.forEach((content, i) => tj.added_tokens.push({ id: 28996 + i, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: false }));
  const plain = new Tokenizer(tj, {});
  const cases = [
    'on\x0bea', 'on\x0cea here', 'on\u00a0ea', 'on\u2028ea', 'x\x07y  z', '\tonea\tzeroa\n', '  leading and trailing  ',
    'on\u200bea', '[CLS]x [SEP]', '東京onea', 'a\r\nb', 'synt-hesis', "can't , won't", 'a'.repeat(101) + ' b', 'ｆｕｌｌ　ｗｉｄｔｈ',
    ...ref.rows.slice(0, 200).map((r) => r.text),
  ];
  for (const text of cases) {
    assert.deepEqual(tok.encode(text).inputIds, [101, ...plain.encode(text, { add_special_tokens: false }).ids, 102], JSON.stringify(text));
    assert.deepEqual(tok.encode(text).inputIds, tok.encode(text).inputIds); // cached path again
  }
});

test('truncation keeps [CLS] and [SEP] within max_length', () => {
  const tok = BertTokenizer.load(BERT);
  const text = 'one two three four five six seven';
  assert.equal(tok.encode(text).inputIds.length, 9);
  const t = tok.encode(text, { truncation: true, maxLength: 5 }).inputIds;
  assert.deepEqual(t, [101, ...tok.encode(text).inputIds.slice(1, 4), 102]);
  const long = 'word '.repeat(600);
  assert.equal(tok.encode(long).inputIds.length, 602);
  assert.equal(tok.encode(long, { truncation: true }).inputIds.length, 512);
});

test('decode keeps special tokens unless asked and handles empty input', () => {
  const tok = BertTokenizer.load(BERT, { addTokens: ADDED });
  assert.equal(tok.decode([101, 1103, 28997, 102]), '[CLS] the onea [SEP]');
  assert.equal(tok.decode([101, 102], { skipSpecialTokens: true }), '');
  assert.equal(tok.decode([1122, 112, 188], { cleanUpTokenizationSpaces: false }), "it ' s");
  assert.equal(tok.decode([1122, 112, 188]), "it's");
});

test('save writes the save_pretrained file set and reloads to the same vocabulary', () => {
  const tok = BertTokenizer.load(BERT, { addTokens: ADDED });
  const dir = tempDir('ff-tok-');
  tok.save(dir);
  assert.deepEqual(readdirSync(dir).sort(), ['added_tokens.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'added_tokens.json'), 'utf8')), { zeroa: 28996, onea: 28997, synt: 28998 });
  assert.equal(readFileSync(join(dir, 'vocab.txt'), 'utf8'), readFileSync(join(BERT, 'vocab.txt'), 'utf8'));
  const again = BertTokenizer.load(dir, { addTokens: ADDED }); // idempotent: no new ids
  assert.equal(again.vocabSize, 28999);
  for (const row of ref.rows.slice(0, 50)) assert.deepEqual(again.encode(row.text).inputIds, row.ids);
  assert.equal(BertTokenizer.load(dir).tokenToId('onea'), 28997); // added tokens travel in tokenizer.json
});

test('a folder with only vocab.txt + tokenizer_config.json tokenizes the same', () => {
  const dir = tempDir('ff-vocab-');
  for (const f of ['vocab.txt', 'tokenizer_config.json']) copyFileSync(join(BERT, f), join(dir, f));
  const tok = BertTokenizer.load(dir, { addTokens: ADDED });
  for (const row of ref.rows) assert.deepEqual(tok.encode(row.text).inputIds, row.ids, JSON.stringify(row.text));
});

test('a missing folder is reported by path', () => {
  assert.throws(() => BertTokenizer.load('/nonexistent/tok'), /\/nonexistent\/tok/);
});
