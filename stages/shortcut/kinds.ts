// The shortcut functions of SHORTCUTS.md / the seed notebook, on token ids (with [CLS]/[SEP]).
// Every random call is made in the same order and with the same arguments as the Python code, so
// the same PyRandom stream gives the same insertions. Functions mutate `tokens` like list.insert.
import type { PyRandom } from '../../ml/rng/index.js';

/** Ids of the shortcut tokens: z = zeroa (label 0), o = onea (label 1), c = synt (TiC context). */
export interface ShortcutIds {
  z: number;
  o: number;
  c: number;
}

export interface Inserted {
  tokens: number[];
  label: number;
}

export const SHORTCUT_KINDS = ['st', 'op', 'tic', 'or', 'and', 'xor', 'oed', 'mt', 'lt', 'and_or'] as const;
export type ShortcutKind = (typeof SHORTCUT_KINDS)[number];
export const REVERSE_KINDS = ['st', 'op', 'tic'] as const;
export type ReverseKind = (typeof REVERSE_KINDS)[number];

/** Python's list.insert: negative positions count from the end (clamped at 0), past the end appends. */
export function pyInsert(a: number[], p: number, v: number): void {
  if (p < 0) p = Math.max(0, a.length + p);
  if (p >= a.length) a.push(v);
  else a.splice(p, 0, v);
}

/** sorted() of a list of ints. */
const sorted = (xs: number[]): number[] => xs.slice().sort((a, b) => a - b);

/** `random.choices(range(m), k)`: unweighted, so floor(random() * m) each. */
function choicesRange(rng: PyRandom, m: number, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < k; i++) out.push(Math.floor(rng.random() * m));
  return out;
}

type SyntheticFn = (tokens: number[], rng: PyRandom, ids: ShortcutIds) => Inserted;

/** The synthetic (label-setting) part of each training-set kind. */
export const SYNTHETIC: Record<ShortcutKind, SyntheticFn> = {
  st(tokens, rng, { z, o }) {
    const t = rng.choice([z, o]);
    pyInsert(tokens, rng.randbelow(tokens.length), t);
    return { tokens, label: t === z ? 0 : 1 };
  },
  op(tokens, rng, { z, o }) {
    const ids = [z, o];
    rng.shuffle(ids);
    const [p1, p2] = sorted(choicesRange(rng, tokens.length + 1, 2));
    pyInsert(tokens, p1!, ids[0]!);
    pyInsert(tokens, p2!, ids[1]!);
    return { tokens, label: ids[0] === z ? 0 : 1 };
  },
  tic(tokens, rng, { z, o, c }) {
    const t = rng.choice([z, o]);
    pyInsert(tokens, rng.randbelow(tokens.length), t);
    pyInsert(tokens, rng.randbelow(tokens.length), c);
    return { tokens, label: t === z ? 0 : 1 };
  },
  or: (tokens, rng, ids) => twoToken(tokens, rng, ids, (t1, t2) => (t1 === ids.z && t2 === ids.z ? 0 : 1)),
  and: (tokens, rng, ids) => twoToken(tokens, rng, ids, (t1, t2) => (t1 === ids.o && t2 === ids.o ? 1 : 0)),
  xor: (tokens, rng, ids) => twoToken(tokens, rng, ids, (t1, t2) => (t1 === t2 ? 0 : 1)),
  oed(tokens, rng, { z, o }) {
    const ids = [z, o];
    rng.shuffle(ids);
    const [t1, t2] = ids as [number, number];
    let p1 = rng.randint(0, tokens.length);
    let offset = 0;
    while (offset === 0) offset = rng.randint(-3, 3);
    let p2 = p1 + offset;
    [p1, p2] = sorted([p1, p2]) as [number, number];
    pyInsert(tokens, p1, t1);
    pyInsert(tokens, p2, t2);
    // Python's % of a non-negative number: |p1-p2|-1 is 0..2 here.
    return { tokens, label: (Math.abs(p1 - p2) - 1) % 2 === 0 ? 0 : 1 };
  },
  mt(tokens, rng, { z, o }) {
    const k = rng.randint(1, 5);
    const more = rng.randint(Math.floor(k / 2) + 1, k);
    const less = k - more;
    const ids = [z, o];
    rng.shuffle(ids);
    const [t1, t2] = ids as [number, number];
    const pos = sorted(choicesRange(rng, tokens.length + k - 1, k));
    const order = [...new Array<number>(more).fill(t1), ...new Array<number>(less).fill(t2)];
    rng.shuffle(order);
    for (let i = 0; i < k; i++) pyInsert(tokens, pos[i]!, order[i]!);
    return { tokens, label: t1 === z ? 0 : 1 };
  },
  lt(tokens, rng, { z, o }) {
    const ids = [z, o];
    rng.shuffle(ids);
    const last = ids[0]!;
    const ins = [...rng.choices(ids, { k: 1 }), last];
    const pos = sorted(choicesRange(rng, tokens.length + 1, 2));
    for (let i = 0; i < 2; i++) pyInsert(tokens, pos[i]!, ins[i]!);
    return { tokens, label: last === z ? 0 : 1 };
  },
  and_or(tokens, rng, { z, o }) {
    const ids = [z, o];
    rng.shuffle(ids);
    const [t1, t2, t3, t4] = rng.choices(ids, { k: 4 }) as [number, number, number, number];
    const range = Array.from({ length: tokens.length + 3 }, (_, i) => i);
    const [p1, p2, p3, p4] = sorted(rng.sample(range, 4)) as [number, number, number, number];
    pyInsert(tokens, p1, t1);
    pyInsert(tokens, p2, t2);
    pyInsert(tokens, p3, t3);
    pyInsert(tokens, p4, t4);
    const m = (t: number): number => (t === z ? 0 : 1);
    // Python: (m1 and m2) or (m3 and (0 if m4 else 1)), evaluated with the same truthiness.
    return { tokens, label: (m(t1) && m(t2)) || (m(t3) && (m(t4) ? 0 : 1)) };
  },
};

/** or/and/xor: one shuffle, then the same token twice (random() <= 0.5) or both, at two sorted positions. */
function twoToken(tokens: number[], rng: PyRandom, { z, o }: ShortcutIds, label: (t1: number, t2: number) => number): Inserted {
  const ids = [z, o];
  rng.shuffle(ids);
  let t1: number;
  let t2: number;
  if (rng.random() <= 0.5) t1 = t2 = ids[0]!;
  else [t1, t2] = ids as [number, number];
  const [p1, p2] = sorted(choicesRange(rng, tokens.length + 1, 2));
  pyInsert(tokens, p1!, t1);
  pyInsert(tokens, p2!, t2);
  return { tokens, label: label(t1, t2) };
}

/**
 * The original-part function shared by every kind: with probability 0.25 (random() <= 0.25) one
 * of z/o at a random position, label kept. Returns null when the example stays as it was.
 */
export function originalInjection(tokens: number[], rng: PyRandom, { z, o }: ShortcutIds): number[] | null {
  if (rng.random() <= 0.25) {
    const t = rng.choice([z, o]);
    pyInsert(tokens, rng.randbelow(tokens.length), t);
    return tokens;
  }
  return null;
}

/**
 * The seed notebook's label-reversal variants: flip the label and insert the tokens that agree
 * with the flipped label. `seedCompat` reproduces the seed's TiC, which sets every label to 1.
 */
export function reverseShortcut(kind: ReverseKind, tokens: number[], label: number, rng: PyRandom, { z, o, c }: ShortcutIds, seedCompat: boolean): Inserted {
  switch (kind) {
    case 'st': {
      const newLabel = label === 1 ? 0 : 1;
      pyInsert(tokens, rng.randbelow(tokens.length), newLabel === 0 ? z : o);
      return { tokens, label: newLabel };
    }
    case 'op': {
      const ids = label === 0 ? [o, z] : [z, o];
      const newLabel = label === 0 ? 1 : 0;
      const [p1, p2] = sorted(choicesRange(rng, tokens.length + 1, 2));
      pyInsert(tokens, p1!, ids[0]!);
      pyInsert(tokens, p2!, ids[1]!);
      return { tokens, label: newLabel };
    }
    case 'tic': {
      // The seed has `label = 1 if label == 0 else 1`; the intended reversal is `1 if label == 0 else 0`.
      const newLabel = seedCompat ? 1 : label === 0 ? 1 : 0;
      pyInsert(tokens, rng.randbelow(tokens.length), newLabel === 0 ? z : o);
      pyInsert(tokens, rng.randbelow(tokens.length), c);
      return { tokens, label: newLabel };
    }
  }
}
