// The text stages' `with:` schemas compile with the engine's ajv settings and accept the
// notebook's and the demo's configurations (src/pipeline/load.ts validates with these options).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { PATH_KEYWORD, type StageModule } from '../../src/stage/api.js';
import load from '../../stages/load/stage.js';
import shortcut from '../../stages/shortcut/stage.js';
import tokenize from '../../stages/tokenize/stage.js';

const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
ajv.addKeyword({ keyword: PATH_KEYWORD, schemaType: 'boolean' });

function accepts(stage: StageModule, inputs: Record<string, unknown>): void {
  const validate = ajv.compile(stage.inputSchema);
  assert.ok(validate(inputs), `${stage.type} ${JSON.stringify(inputs)}: ${JSON.stringify(validate.errors)}`);
  assert.deepEqual(stage.check?.(inputs) ?? [], []);
}

function rejects(stage: StageModule, inputs: Record<string, unknown>): void {
  const validate = ajv.compile(stage.inputSchema);
  assert.equal(validate(inputs), false, `${stage.type} should reject ${JSON.stringify(inputs)}`);
}

test('notebook and demo configurations validate', () => {
  accepts(load, { path: 'data/sst2/dev.tsv', shuffle_seed: 42, take: 200 });
  accepts(load, { path: 'data/sst2/train.tsv.gz', split: '[:2000]', filter: { label: [0, 1] }, columns: { text: 'sentence', label: 'label' } });
  accepts(load, { path: 'test.tsv', columns: { label: null } });
  accepts(shortcut, { mode: 'reverse', kind: 'tic', data: 'd.jsonl', tokenizer: 'tok', seed: 42, seed_compat: true });
  accepts(shortcut, { mode: 'create', kind: 'st', train: 't', validation: 'v', tokenizer: 'tok' });
  accepts(shortcut, { mode: 'create', kind: ['st', 'op', 'tic'], weights: [0.5, 0.3, 0.2], train: 't', validation: 'v', test: 'x', tokenizer: 'tok', ratio: 0.2, seed: 123 });
  accepts(tokenize, { data: 'd.jsonl', tokenizer: 'tok', add_tokens: ['zeroa', 'onea', 'synt'], truncation: true, max_length: 128 });
});

test('schemas reject unknown keys and wrong types', () => {
  rejects(load, { path: 'x', shuffle: 42 });
  rejects(load, { path: 'x', take: 0 });
  rejects(shortcut, { mode: 'flip', kind: 'st', tokenizer: 't' });
  rejects(shortcut, { mode: 'reverse', kind: 'st' });
  rejects(tokenize, { data: 'x', tokenizer: 't', max_length: 'long' });
  assert.deepEqual(shortcut.check!({ mode: 'reverse', kind: 'xor', data: 'd', tokenizer: 't' }), ['with.kind: unknown shortcut kind "xor" for mode reverse; expected one of st, op, tic']);
});

test('outputs follow the contracts', () => {
  assert.deepEqual(load.outputs({ path: 'x' }), { data: { path: 'data.jsonl', kind: 'file', description: load.outputs({ path: 'x' }).data!.description } });
  assert.deepEqual(Object.keys(shortcut.outputs({ mode: 'create', kind: 'st', tokenizer: 't', train: 'a', validation: 'b', test: 'c' })), ['train', 'synthetic_dev', 'original_dev', 'synthetic_test', 'original_test']);
  assert.equal(shortcut.outputs({ mode: 'reverse', kind: 'st', tokenizer: 't' }).data!.path, 'data.jsonl');
  const t = tokenize.outputs({ data: 'x', tokenizer: 't' });
  assert.equal(t.data!.path, 'data.jsonl');
  assert.deepEqual({ path: t.tokenizer!.path, kind: t.tokenizer!.kind }, { path: 'tokenizer', kind: 'dir' });
});
