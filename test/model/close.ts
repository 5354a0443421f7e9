// Tolerance checks for float32 results against reference values.
import assert from 'node:assert/strict';

/** |a − b| ≤ rtol·|b| + atol·max|b|, elementwise, with the worst offender in the message. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-4, atolScale = 1e-5, minScale = 0): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  // minScale: a tensor that is zero in exact arithmetic (e.g. the key bias gradient: softmax is
  // shift-invariant) holds only rounding noise, so it is compared on the scale of its neighbours.
  let scale = minScale;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const tol = rtol * Math.abs(expected[i]) + atolScale * scale;
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      assert.fail(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (tol ${tol.toExponential(2)})`);
    }
  }
}

export function maxAbsAll(arrays: ArrayLike<number>[]): number {
  let m = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}


/**
 * Compares two sets of named tensors. The attention key bias has a zero gradient in exact
 * arithmetic (softmax is shift-invariant), so its values are rounding noise and are compared on
 * the scale of the largest tensor instead of their own.
 */
export function assertTensorsClose(actual: Map<string, ArrayLike<number>>, expected: (name: string) => ArrayLike<number>, what: string, rtol = 1e-4, atolScale = 1e-6): void {
  const names = [...actual.keys()];
  const scale = maxAbsAll(names.map(expected));
  for (const name of names) {
    assertClose(actual.get(name)!, expected(name), `${what} ${name}`, rtol, atolScale, name.includes('attention.self.key.bias') ? scale : 0);
  }
}
