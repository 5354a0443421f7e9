// Fisher overlap: properties, the seed's formula in PyTorch (fixture from
// test/fixtures/model/make_fixtures.py), group breakdown and the bootstrap over chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import { fixtureDir } from './paths.js';
import { makeStageContext, tempDir } from '../helpers/stage-context.js';
import { SafetensorsFile, writeSafetensors } from '../../ml/safetensors/format.js';
import { fisherOverlap, parameterGroup, CompensatedSum } from '../../stages/overlap/overlap.js';
import overlapStage, { type OverlapInputs, type OverlapJson } from '../../stages/overlap/stage.js';
import fimStage, { type FimInputs } from '../../stages/fim/stage.js';
import { StageInputError } from '../../src/stage/api.js';

const NAMES = ['bert.embeddings.word_embeddings.weight', 'bert.encoder.layer.0.attention.self.query.weight', 'bert.encoder.layer.0.output.dense.bias', 'bert.pooler.dense.weight', 'classifier.bias'];

function rand(seed: number): () => number {
  let s = seed;
  return () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
}

function write(dir: string, file: string, make: (name: string, i: number) => number, meta: Record<string, string> = {}): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, file);
  writeSafetensors(path, NAMES.map((name, k) => ({ name, shape: [10 + k], data: Float32Array.from({ length: 10 + k }, (_, i) => make(name, i)) })), meta);
  return path;
}

test('overlap is 1 for identical Fishers and for F vs αF, 0 for disjoint supports, and symmetric', () => {
  const d = tempDir();
  const r = rand(3);
  const vals = new Map(NAMES.map((n, k) => [n, Array.from({ length: 10 + k }, () => r() ** 3)]));
  const f = write(d, 'f.safetensors', (n, i) => vals.get(n)![i]);
  const f7 = write(d, 'f7.safetensors', (n, i) => 7.5 * vals.get(n)![i]);
  const even = write(d, 'even.safetensors', (_n, i) => (i % 2 === 0 ? 1 + i : 0));
  const odd = write(d, 'odd.safetensors', (_n, i) => (i % 2 === 1 ? 2 : 0));
  const g = write(d, 'g.safetensors', () => r());
  assert.ok(Math.abs(fisherOverlap(f, f).overlap - 1) < 1e-12);
  assert.ok(Math.abs(fisherOverlap(f, f7).overlap - 1) < 1e-7);
  assert.equal(fisherOverlap(even, odd).overlap, 0);
  const ab = fisherOverlap(f, g), ba = fisherOverlap(g, f);
  assert.equal(ab.overlap, ba.overlap);
  assert.deepEqual(ab.groups, ba.groups);
  assert.ok(ab.overlap > 0 && ab.overlap < 1);
  // The seed's formula in float64, directly.
  let sa = 0, sb = 0;
  const A: number[] = [], B: number[] = [];
  const fa = SafetensorsFile.open(f), fg = SafetensorsFile.open(g);
  for (const n of NAMES) { A.push(...fa.readFloat32(n)); B.push(...fg.readFloat32(n)); }
  fa.close(); fg.close();
  for (let i = 0; i < A.length; i++) { sa += A[i]; sb += B[i]; }
  let dist = 0;
  for (let i = 0; i < A.length; i++) { const p = A[i] / sa, q = B[i] / sb; dist += p + q - 2 * Math.sqrt(p * q); }
  assert.ok(Math.abs(ab.overlap - (1 - 0.5 * dist)) < 1e-12);
  assert.deepEqual(Object.keys(ab.groups), ['embeddings', 'encoder.layer.0.attention', 'encoder.layer.0.ffn', 'pooler', 'classifier']);
});

test('parameter groups and compensated summation', () => {
  assert.equal(parameterGroup('bert.encoder.layer.11.intermediate.dense.weight'), 'encoder.layer.11.ffn');
  assert.equal(parameterGroup('bert.encoder.layer.3.attention.output.LayerNorm.bias'), 'encoder.layer.3.attention');
  assert.equal(parameterGroup('bert.embeddings.LayerNorm.weight'), 'embeddings');
  const s = new CompensatedSum();
  s.add(1); for (let i = 0; i < 1000; i++) s.add(1e-16); s.add(-1);
  assert.ok(Math.abs(s.value - 1e-13) < 1e-20);
});

test('overlap equals the seed fisher_overlap computed by PyTorch on the fixture Fishers', () => {
  const ref = SafetensorsFile.open(join(fixtureDir(), 'reference.safetensors'));
  const d = tempDir();
  try {
    const names = ref.names().filter((n) => n.startsWith('fisher.empirical.')).map((n) => n.slice('fisher.empirical.'.length));
    const save = (kind: string) => {
      const p = join(d, `${kind}.safetensors`);
      writeSafetensors(p, names.map((n) => ({ name: n, shape: ref.info(`fisher.${kind}.${n}`).shape, data: ref.readFloat32(`fisher.${kind}.${n}`) })));
      return p;
    };
    const got = fisherOverlap(save('empirical'), save('expected')).overlap;
    const want = ref.readFloat32('overlap.empirical_expected.f64')[0];
    assert.ok(Math.abs(got - want) < 1e-6, `${got} vs ${want}`);
  } finally { ref.close(); }
});

test('overlap stage: pairs with labels and kinds, all_pairs, metadata, errors', async () => {
  const d = tempDir();
  const a = write(join(d, 'a'), 'fim.safetensors', (_n, i) => 1 + i, { fisher: 'empirical', examples: '3' });
  const b = write(join(d, 'b'), 'fim.safetensors', (_n, i) => 1 + (i % 3));
  const c = write(join(d, 'c'), 'fim.safetensors', (_n, i) => (i < 5 ? 1 : 0));
  const ctx = makeStageContext<OverlapInputs>({ fishers: { tic: a, op: join(d, 'b'), st: c }, pairs: [{ a: 'tic', b: 'op', label: 'unshared', kind: 'unshared' }], all_pairs: true });
  await overlapStage.run(ctx);
  const out = JSON.parse(readFileSync(join(ctx.outDir, 'overlap.json'), 'utf8')) as OverlapJson;
  assert.deepEqual(Object.keys(out.overlap), ['tic~op', 'tic~st', 'op~st']);
  assert.equal(out.pairs[0].kind, 'unshared');
  assert.equal(out.pairs[0].label, 'unshared');
  assert.equal(out.fishers.tic.examples, '3');
  assert.ok(out.pairs.every((p) => typeof p.groups.classifier === 'number'));
  assert.equal(overlapStage.outputs({} as OverlapInputs).overlap.metrics, true);
  assert.deepEqual(overlapStage.check!({ fishers: { x: a }, pairs: [{ a: 'x', b: 'y' }] }), ['with.pairs[0].b: "y" is not one of the fishers (x)']);
  const neg = write(join(d, 'neg'), 'fim.safetensors', (_n, i) => (i === 2 ? -1 : 1));
  await assert.rejects(overlapStage.run(makeStageContext<OverlapInputs>({ fishers: { x: a, y: neg }, all_pairs: true })), (e: Error) => e instanceof StageInputError && /element 2 is -1/.test(e.message));
  await assert.rejects(overlapStage.run(makeStageContext<OverlapInputs>({ fishers: { x: a, y: b }, all_pairs: true, bootstrap: 20 })), (e: Error) => e instanceof StageInputError && /set chunks/.test(e.message));
});

test('overlap stage: bootstrap interval from the fim stage chunks (tiny model)', async () => {
  const model = join(fixtureDir(), 'tiny-bert');
  const data = join(fixtureDir(), 'data.jsonl');
  const runFim = async (fisher: 'empirical' | 'expected') => {
    const ctx = makeStageContext<FimInputs>({ model, data, fisher, chunks: 3, workers: 0, backend: 'wasm', batch_size: 2 });
    await fimStage.run(ctx);
    return join(ctx.outDir, 'fim.safetensors');
  };
  const emp = await runFim('empirical');
  const exp = await runFim('expected');
  const ctx = makeStageContext<OverlapInputs>({ fishers: { emp, exp }, pairs: [{ a: 'emp', b: 'exp' }, { a: 'emp', b: 'emp' }], bootstrap: 50, seed: 1 });
  await overlapStage.run(ctx);
  const out = JSON.parse(readFileSync(join(ctx.outDir, 'overlap.json'), 'utf8')) as OverlapJson;
  const [p, same] = out.pairs;
  assert.ok(p.interval && p.interval.low <= p.interval.high && p.interval.level === 0.95);
  assert.ok(p.interval.low > 0.5 && p.interval.high <= 1);
  // Independent resampling of each side: even a Fisher against itself has an interval below 1.
  assert.ok(same.interval!.high <= 1 + 1e-12 && same.overlap > 0.999999);
  const ref = SafetensorsFile.open(join(fixtureDir(), 'reference.safetensors'));
  const want = ref.readFloat32('overlap.empirical_expected.f64')[0];
  ref.close();
  assert.ok(Math.abs(p.overlap - want) < 1e-5, `${p.overlap} vs PyTorch ${want}`);
});

test('overlap streams tensors larger than one block (2^20 elements) correctly', () => {
  const d = tempDir();
  const n = (1 << 20) * 2 + 12345;
  const r = rand(9);
  const A = Float32Array.from({ length: n }, () => r());
  const B = Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 0 : r()));
  const pa = join(d, 'a.safetensors'), pb = join(d, 'b.safetensors');
  writeSafetensors(pa, [{ name: 'bert.embeddings.word_embeddings.weight', shape: [n], data: A }, { name: 'classifier.bias', shape: [2], data: Float32Array.of(0.5, 0.25) }]);
  writeSafetensors(pb, [{ name: 'bert.embeddings.word_embeddings.weight', shape: [n], data: B }, { name: 'classifier.bias', shape: [2], data: Float32Array.of(0.1, 0.9) }]);
  let sa = 0.75, sb = 1, sab = Math.sqrt(0.05) + Math.sqrt(0.225);
  for (let i = 0; i < n; i++) { sa += A[i]; sb += B[i]; sab += Math.sqrt(A[i] * B[i]); }
  const got = fisherOverlap(pa, pb);
  assert.ok(Math.abs(got.overlap - sab / Math.sqrt(sa * sb)) < 1e-9);
  assert.ok(Math.abs(got.groups.classifier! - (Math.sqrt(0.05) + Math.sqrt(0.225)) / Math.sqrt(0.75)) < 1e-7); // float32 inputs
});
