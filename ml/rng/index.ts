// Python-exact randomness for ported research code.
export { PyRandom } from './py-random.js';
export type { ChoicesOptions } from './py-random.js';
export { MT19937 } from './mt19937.js';
export { numpyPermutation, PCG64, seedSequenceState } from './numpy-random.js';
