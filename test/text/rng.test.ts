// ml/rng against CPython's random and numpy's default_rng.
// Fixture: /usr/bin/python3 test/fixtures/text/make_rng_vectors.py > test/fixtures/text/rng-vectors.json
// (Debian CPython 3.11 + numpy 1.24; the script lists every call it records).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PyRandom, numpyPermutation } from '../../ml/rng/index.js';
import { fixturePath } from './repo-root.js';

interface Vectors {
  streams: Array<{ seed: string; ops: any[][] }>;
  permutations: Array<{ seed: string; n: number; head: number[]; tail: number[]; weighted_sum: number }>;
}
const vectors = JSON.parse(readFileSync(fixturePath('rng-vectors.json'), 'utf8')) as Vectors;

for (const stream of vectors.streams) {
  test(`PyRandom stream for seed ${stream.seed} equals CPython`, () => {
    const r = new PyRandom(BigInt(stream.seed));
    for (const op of stream.ops) {
      const [name] = op;
      switch (name) {
        case 'random':
          assert.deepEqual((op[1] as number[]).map(() => r.random()), op[1]);
          break;
        case 'getrandbits':
          assert.equal(r.getrandbits(op[1]), op[2], `getrandbits(${op[1]})`);
          break;
        case 'getrandbitsBig':
          assert.equal(r.getrandbitsBig(op[1]).toString(), op[2]);
          break;
        case 'randbelow':
          assert.deepEqual((op[2] as number[]).map(() => r.randrange(op[1])), op[2], `randrange(${op[1]})`);
          break;
        case 'randrange': {
          const [a, b, s] = op[1];
          assert.deepEqual((op[2] as number[]).map(() => r.randrange(a, b, s)), op[2]);
          break;
        }
        case 'randint':
          assert.deepEqual((op[2] as number[]).map(() => r.randint(op[1][0], op[1][1])), op[2]);
          break;
        case 'choice':
          assert.deepEqual((op[1] as string[]).map(() => r.choice('abcdefg')), op[1]);
          break;
        case 'choices': {
          const o = op[1];
          const n = o.weights?.length ?? o.cumWeights?.length ?? 9;
          const pop = Array.from({ length: n }, (_, i) => i);
          assert.deepEqual(r.choices(pop, o), op[2], JSON.stringify(o));
          break;
        }
        case 'shuffle': {
          const x = Array.from({ length: op[1] }, (_, i) => i);
          r.shuffle(x);
          assert.deepEqual(x, op[2]);
          break;
        }
        case 'sample': {
          const [n, k] = op[1];
          assert.deepEqual(r.sample(Array.from({ length: n }, (_, i) => i), k), op[2], `sample(${n}, ${k})`);
          break;
        }
        default:
          assert.fail(`unknown op ${name}`);
      }
    }
  });
}

test('numpyPermutation equals np.random.default_rng(seed).permutation(n)', () => {
  for (const p of vectors.permutations) {
    const got = numpyPermutation(BigInt(p.seed), p.n);
    const label = `seed ${p.seed}, n ${p.n}`;
    assert.deepEqual(got.slice(0, 100), p.head, label);
    assert.deepEqual(got.slice(-20), p.tail, label);
    assert.equal(got.reduce((s, v, i) => s + (i + 1) * v, 0), p.weighted_sum, label);
  }
});

test('PyRandom rejects what CPython rejects', () => {
  const r = new PyRandom(1);
  assert.throws(() => r.choice([]), RangeError);
  assert.throws(() => r.randrange(0), RangeError);
  assert.throws(() => r.sample([1, 2], 3), RangeError);
  assert.throws(() => r.choices([1, 2], { weights: [1] }), RangeError);
});
