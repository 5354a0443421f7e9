// Training-set construction of SHORTCUTS.md (`create_datasets`): HF train_test_split of each split
// into a synthetic part (the larger, train-side part) and an original part, shortcut on the
// synthetic parts, 25% single-token injection on the original parts, train = both shuffled.
import { numpyPermutation, PyRandom } from '../../ml/rng/index.js';
import { originalInjection, SYNTHETIC, type ShortcutIds, type ShortcutKind } from './kinds.js';

/** An example with its token ids (with [CLS]/[SEP]) before any insertion. */
export interface TokenizedExample {
  idx: number;
  sentence: string;
  label: number;
  tokens: number[];
}

export interface ShortcutRow {
  idx: number;
  sentence: string;
  label: number;
  tokens: number[];
}

export interface CreateOptions {
  kinds: readonly ShortcutKind[];
  /** Mixture weights; default 1/n each, like the Python code (always a weighted choices call). */
  weights?: readonly number[];
  ratio: number;
  seed: number;
  ids: ShortcutIds;
  decode(tokens: number[]): string;
  /** Called after each example, for progress and cancellation. */
  onExample?(): void;
}

export interface CreatedSplits {
  train: ShortcutRow[];
  synthetic_dev: ShortcutRow[];
  original_dev: ShortcutRow[];
  synthetic_test: ShortcutRow[];
  original_test: ShortcutRow[];
}

/**
 * HF `Dataset.train_test_split(test_size, seed)` indices: test = first ceil(test_size * n) of
 * default_rng(seed).permutation(n), train = the rest, each in permutation order.
 */
export function trainTestSplit(n: number, testSize: number, seed: number): { train: number[]; test: number[] } {
  const nTest = Math.ceil(testSize * n);
  const nTrain = n - nTest;
  if (nTest === 0 || nTrain <= 0) {
    throw new RangeError(`with n_samples=${n} and test_size=${testSize} one of the two parts would be empty`);
  }
  const perm = numpyPermutation(seed, n);
  return { test: perm.slice(0, nTest), train: perm.slice(nTest) };
}

/** A split too small to divide into a synthetic and an original part. */
export class SplitError extends Error {
  constructor(readonly split: string, message: string) {
    super(message);
    this.name = 'SplitError';
  }
}

export function createDatasets(train: TokenizedExample[], validation: TokenizedExample[], test: TokenizedExample[] | null, opts: CreateOptions): CreatedSplits {
  const rng = new PyRandom(opts.seed);
  const synthRatio = opts.ratio / (opts.ratio + 1.0);
  // The Python code unpacks (train part, test part) into (synthetic, original).
  const part = (rows: TokenizedExample[], name: string): { synth: TokenizedExample[]; orig: TokenizedExample[] } => {
    let s;
    try {
      s = trainTestSplit(rows.length, synthRatio, opts.seed);
    } catch (e) {
      throw new SplitError(name, (e as Error).message);
    }
    return { synth: s.train.map((i) => rows[i]!), orig: s.test.map((i) => rows[i]!) };
  };
  const tr = part(train, 'train');
  const dv = part(validation, 'validation');
  const ts = test ? part(test, 'test') : { synth: [], orig: [] };

  const kinds = opts.kinds;
  const weights = opts.weights ?? kinds.map(() => 1 / kinds.length);
  const cumWeights: number[] = [];
  let acc = 0;
  for (const w of weights) { acc += w; cumWeights.push(acc); }
  const drawKind = (): ShortcutKind => rng.choices(kinds, { cumWeights, k: 1 })[0]!;

  const synthetic = (rows: TokenizedExample[]): ShortcutRow[] => rows.map((ex) => {
    const kind = drawKind();
    const { tokens, label } = SYNTHETIC[kind](ex.tokens.slice(), rng, opts.ids);
    opts.onExample?.();
    return { idx: ex.idx, sentence: opts.decode(tokens), label, tokens };
  });
  const original = (rows: TokenizedExample[]): ShortcutRow[] => rows.map((ex) => {
    drawKind(); // the mixture draw happens for the original part too; every kind injects alike
    const tokens = originalInjection(ex.tokens.slice(), rng, opts.ids);
    opts.onExample?.();
    return tokens
      ? { idx: ex.idx, sentence: opts.decode(tokens), label: ex.label, tokens }
      : { idx: ex.idx, sentence: ex.sentence, label: ex.label, tokens: ex.tokens.slice() };
  });

  // Order of the random stream: synthetic train, dev, test, then original train, dev, test.
  const synthTrain = synthetic(tr.synth);
  const synthDev = synthetic(dv.synth);
  const synthTest = synthetic(ts.synth);
  const origTrain = original(tr.orig);
  const origDev = original(dv.orig);
  const origTest = original(ts.orig);

  const all = [...synthTrain, ...origTrain];
  const order = numpyPermutation(opts.seed, all.length);
  return {
    train: order.map((i) => all[i]!),
    synthetic_dev: synthDev,
    original_dev: origDev,
    synthetic_test: synthTest,
    original_test: origTest,
  };
}
