// serialiseLock writes the lock file directly (for speed); its bytes must stay exactly those of
// JSON.stringify(…, null, 2) over key-sorted copies, the format lock files were first written in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serialiseLock, type LockFile } from '../../src/cache/lockfile.js';

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

function reference(lock: LockFile): string {
  const stages = Object.fromEntries(Object.keys(lock.stages).sort().map((k) => [k, sortKeys(lock.stages[k])]));
  return `${JSON.stringify({ version: lock.version, pipeline: lock.pipeline, params: sortKeys(lock.params), stages }, null, 2)}\n`;
}

test('the lock file bytes equal the JSON.stringify reference, edge cases included', () => {
  const lock = {
    version: 1,
    pipeline: 'pipelines/démo "x".yaml',
    params: { z: 1, a: [3, { y: null, b: -0, c: 1e21, d: 0.1 }], '10': 'ten', '9': 'nine', '01': 'zero-one', e: {}, f: [], g: undefined, h: [undefined, Number.NaN], u: '\u2028\u0001 ✓' },
    stages: {
      'b@x,y': { key: 'k2', type: 'command', cmd: 'echo "hi"\n', outs: { 'out/b.txt': { path: 'out/b.txt', hash: 'h' } }, deps: { 'z.txt': 'a', 'a.txt': 'b' } },
      '2': { key: 'k3', type: 'write', outs: {}, inputs: { nested: { deep: [[], [{}], [1, [2]]] }, when: new Date(0) } },
      a: { key: 'k1', type: 'command', outs: {}, params: { 'model.lr': 0.001, 'model.name': 'bert' }, metrics: ['m'] },
      '11': { key: 'k4', type: 'command', outs: {} },
      // Already sorted at the top, not below (the writer must copy only what it has to).
      c: { cmd: 'x', deps: { 'b.txt': '1', 'a.txt': '2' }, inputs: { list: [{ a: 1 }, { z: 1, b: [{ y: 1, x: 2 }] }] }, key: 'k5', outs: { o: { hash: 'h', path: 'o' } }, type: 'command' },
      d: { cmd: 'y', key: 'k6', outs: { o: { hash: 'h', path: 'o' } }, type: 'command' },
    },
  } as unknown as LockFile;
  assert.equal(serialiseLock(lock), reference(lock));
  const empty = { version: 1, pipeline: 'p.yaml', params: {}, stages: {} } as LockFile;
  assert.equal(serialiseLock(empty), reference(empty));
});
