// Checkpoints that cannot be merged, and inputs that make no sense, are refused before anything
// is written, with the input, the tensor or field, and both values named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StageInputError } from '../../src/stage/api.js';
import { writeSafetensors } from '../../ml/safetensors/format.js';
import mergeStage, { runMerge } from '../../stages/merge/stage.js';
import { cli, workspace } from '../helpers/cli.js';
import { makeStageContext, tempDir } from '../helpers/stage-context.js';
import { fixture, merge, readTensors } from './fixture.js';

const A = fixture('a');

/** A copy of fixture a, changed: config fields, tensors (name → new shape and data), vocab lines. */
function variant(change: { config?: Record<string, unknown>; tensors?: (t: Map<string, { shape: number[]; data: Float32Array }>) => void; vocab?: (lines: string[]) => string[] }): string {
  const dir = join(tempDir('ff-merge-'), 'model');
  cpSync(A, dir, { recursive: true });
  if (change.config) writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(A, 'config.json'), 'utf8')), ...change.config }));
  if (change.tensors) {
    const t = readTensors(join(A, 'model.safetensors'));
    change.tensors(t);
    writeSafetensors(join(dir, 'model.safetensors'), [...t].map(([name, v]) => ({ name, ...v })), { format: 'pt' });
  }
  if (change.vocab) writeFileSync(join(dir, 'vocab.txt'), change.vocab(readFileSync(join(A, 'vocab.txt'), 'utf8').trimEnd().split('\n')).join('\n') + '\n');
  return dir;
}

async function refused(inputs: Parameters<typeof merge>[0], pattern: RegExp): Promise<void> {
  await assert.rejects(merge(inputs), (e: unknown) => {
    assert.ok(e instanceof StageInputError, String(e));
    assert.match((e as Error).message, pattern);
    return true;
  });
}

const grownVocab = () => variant({
  config: { vocab_size: 53 },
  tensors: (t) => {
    const w = t.get('bert.embeddings.word_embeddings.weight')!;
    t.set('bert.embeddings.word_embeddings.weight', { shape: [53, 16], data: Float32Array.from({ length: 53 * 16 }, (_, i) => w.data[i] ?? 0.01) });
  },
  vocab: (l) => [...l, 'zeroa', 'onea', 'synt'],
});

test('a different vocabulary size names the tensor and both shapes', async () => {
  await refused({ models: { st: A, op: grownVocab() } },
    /^with\.models\.op: tensor "bert\.embeddings\.word_embeddings\.weight" has shape \[53, 16\] in .*model\.safetensors but \[50, 16\] in models\.st's$/);
});

test('a different architecture with the same shapes, a different tokenizer, a missing tensor', async () => {
  await refused({ models: [A, variant({ config: { num_attention_heads: 4 } })] },
    /^with\.models\[1\]: config\.json has num_attention_heads 4 but models\[0\]'s has 2; checkpoints with different architectures cannot be merged$/);
  await refused({ models: [A, variant({ vocab: (l) => l.map((t, i) => (i === 7 ? 'other' : t)) })] },
    /^with\.models\[1\]: its tokenizer differs from models\[0\]'s at token id 7 \("other" vs "t7"\)/);
  await refused({ models: [A, variant({ tensors: (t) => t.delete('classifier.bias') })] },
    /^with\.models\[1\]: .*model\.safetensors has no tensor "classifier\.bias" \(models\[0\]'s has shape \[3\]\)$/);
});

test('a Fisher that does not fit the models, or is not a Fisher', async () => {
  const dir = tempDir('ff-fim-');
  const fim = readTensors(fixture('fim-a.safetensors'));
  const write = (name: string, change: (t: typeof fim) => void) => {
    const t = new Map([...fim].map(([n, v]) => [n, { shape: v.shape, data: v.data.slice() }]));
    change(t);
    writeSafetensors(join(dir, name), [...t].map(([n, v]) => ({ name: n, ...v })));
    return join(dir, name);
  };
  const short = write('short.safetensors', (t) => t.delete('bert.pooler.dense.bias'));
  const negative = write('negative.safetensors', (t) => { t.get('bert.encoder.layer.1.output.dense.weight')!.data[5] = -1; });
  const ok = fixture('fim-b.safetensors');
  await refused({ method: 'fisher', models: { st: A, op: A }, fishers: { st: ok, op: short } }, /^with\.fishers\.op: .*short\.safetensors has no tensor "bert\.pooler\.dense\.bias"/);
  await refused({ method: 'fisher', models: [A, A], fishers: [negative, ok] },
    /^with\.fishers\[0\]: tensor "bert\.encoder\.layer\.1\.output\.dense\.weight" has Fisher value -1 at element 5; a Fisher diagonal is a mean of squares/);
});

test('inputs that do not fit the method are named by check()', () => {
  const check = (inputs: object) => mergeStage.check!(inputs as never);
  assert.deepEqual(check({ method: 'fisher', models: [A, A] }), ['with.fishers: method fisher needs one Fisher (the fim stage\'s fim.safetensors) per model']);
  assert.deepEqual(check({ models: [A, A], weights: [1] }), ['with.weights: 1 weights for 2 models; give one per model']);
  assert.deepEqual(check({ models: { a: A }, weights: { b: 1 } }), ['with.weights: no weight for model \'a\'', 'with.weights.b: no model named \'b\' (models: a)']);
  assert.deepEqual(check({ models: [A], fishers: [A] }), ['with.fishers: only used by method fisher (method is average)']);
  assert.deepEqual(check({ method: 'task_arithmetic', models: [A] }), ['with.base: method task_arithmetic needs the base checkpoint the models were fine-tuned from']);
  assert.deepEqual(check({ method: 'fisher', models: [A], fishers: { a: A } }), ['with.fishers: give the fishers as the models are given (both lists, or both maps by model name)']);
});

test('through the CLI: the error is located at the stage, with no stack trace, and nothing is stored', () => {
  const ws = workspace({
    'fisherflow.yaml': `stages:\n  fused:\n    uses: merge\n    with:\n      models: { st: ${A}, op: ${grownVocab()} }\n  geometric:\n    uses: merge\n    with: { method: geometric, models: [${A}] }\n`,
  });
  const bad = cli(['run'], { cwd: ws });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /fisherflow\.yaml:8:\d+: .*method.*(average|one of)/);
  writeFileSync(join(ws, 'fisherflow.yaml'), readFileSync(join(ws, 'fisherflow.yaml'), 'utf8').replace(/ {2}geometric:[\s\S]*$/, ''));
  const r = cli(['run'], { cwd: ws });
  assert.equal(r.code, 1, r.stderr + r.stdout);
  const out = r.stderr + r.stdout;
  assert.match(out, /fused.*with\.models\.op: tensor "bert\.embeddings\.word_embeddings\.weight" has shape \[53, 16\]/);
  assert.doesNotMatch(out, /\n\s+at /, 'no stack trace');
  assert.notEqual(cli(['show', 'fused.model'], { cwd: ws }).code, 0);
});

test('an interrupted merge leaves no weights file, whole or partial', async () => {
  const ac = new AbortController();
  const ctx = makeStageContext({ models: [A, fixture('b')] }, { stage: 'merge', signal: ac.signal });
  ctx.progress = (done) => { if (done > 1000) ac.abort(); };
  await assert.rejects(runMerge(ctx, 64), (e: unknown) => (e as Error).name === 'AbortError');
  assert.deepEqual(readdirSync(join(ctx.outDir, 'model')), []);
});
