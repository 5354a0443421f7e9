// Fisher overlap (the seed's fisher_overlap): each diagonal normalised to sum 1, then
//   overlap = 1 − ½ Σ (p + q − 2√(p q)),
// which for p = a/Σa, q = b/Σb equals Σ√(a b) / √(Σa · Σb). Sums are float64 with Neumaier
// compensation, streamed in blocks so BERT-base (≈108M terms) needs little memory.
import { StageInputError } from 'fisherflow';
import { SafetensorsFile } from '../../ml/safetensors/format.js';
import { mulberry32 } from '../../ml/rng/mulberry32.js';

/** Neumaier (improved Kahan) compensated sum. */
export class CompensatedSum {
  private s = 0;
  private c = 0;
  add(x: number): void {
    const t = this.s + x;
    if (Math.abs(this.s) >= Math.abs(x)) this.c += this.s - t + x;
    else this.c += x - t + this.s;
    this.s = t;
  }
  get value(): number { return this.s + this.c; }
}

/** Parameter group of an HF BERT parameter name, for the per-group breakdown. */
export function parameterGroup(name: string): string {
  if (name.startsWith('bert.embeddings.')) return 'embeddings';
  const m = /^bert\.encoder\.layer\.(\d+)\.(attention|intermediate|output)\./.exec(name);
  if (m) return `encoder.layer.${m[1]}.${m[2] === 'attention' ? 'attention' : 'ffn'}`;
  if (name.startsWith('bert.pooler.')) return 'pooler';
  if (name.startsWith('classifier.')) return 'classifier';
  return 'other';
}

export interface GroupSums { a: CompensatedSum; b: CompensatedSum; ab: CompensatedSum }

export interface OverlapResult { overlap: number; groups: Record<string, number | null> }

/** Overlap from the three sums; null when a side is all zero (nothing to normalise). */
export function overlapFromSums(sa: number, sb: number, sab: number): number | null {
  if (!(sa > 0) || !(sb > 0)) return null;
  return sab / Math.sqrt(sa * sb);
}

export const BLOCK = 1 << 20;

/** Checks that two Fisher files hold the same parameters with the same shapes. */
export function checkSameLayout(fa: SafetensorsFile, fb: SafetensorsFile): string[] {
  const names = fa.names();
  const nb = new Set(fb.names());
  for (const n of names) {
    if (!nb.has(n)) throw new StageInputError(`${fb.path}: has no tensor "${n}" that ${fa.path} has (Fishers of different models?)`);
    const sa = fa.info(n).shape, sb = fb.info(n).shape;
    if (sa.join(',') !== sb.join(',')) throw new StageInputError(`${fb.path}: tensor "${n}" has shape [${sb}] but [${sa}] in ${fa.path}`);
  }
  if (nb.size !== names.length) {
    const extra = [...nb].find((n) => !names.includes(n));
    throw new StageInputError(`${fa.path}: has no tensor "${extra}" that ${fb.path} has (Fishers of different models?)`);
  }
  return names;
}

function checkBlock(x: Float32Array, path: string, name: string, offset: number): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!(v >= 0) || v === Infinity) throw new StageInputError(`${path}: tensor "${name}" element ${offset + i} is ${v}; a Fisher diagonal must be finite and non-negative`);
  }
}

/** Overlap of two Fisher files, overall and per parameter group (each group renormalised). */
export function fisherOverlap(pathA: string, pathB: string): OverlapResult {
  const fa = SafetensorsFile.open(pathA);
  const fb = SafetensorsFile.open(pathB);
  try {
    const names = checkSameLayout(fa, fb);
    const groups = new Map<string, GroupSums>();
    for (const name of names) {
      const g = parameterGroup(name);
      let gs = groups.get(g);
      if (!gs) { gs = { a: new CompensatedSum(), b: new CompensatedSum(), ab: new CompensatedSum() }; groups.set(g, gs); }
      const n = fa.info(name).shape.reduce((x, y) => x * y, 1);
      for (let off = 0; off < n; off += BLOCK) {
        const cnt = Math.min(BLOCK, n - off);
        const a = fa.readFloat32Range(name, off, cnt);
        const b = fb.readFloat32Range(name, off, cnt);
        checkBlock(a, pathA, name, off);
        checkBlock(b, pathB, name, off);
        for (let i = 0; i < cnt; i++) {
          const x = a[i], y = b[i];
          gs.a.add(x);
          gs.b.add(y);
          gs.ab.add(Math.sqrt(x * y));
        }
      }
    }
    const total = { a: new CompensatedSum(), b: new CompensatedSum(), ab: new CompensatedSum() };
    const out: Record<string, number | null> = {};
    for (const [g, s] of groups) {
      out[g] = overlapFromSums(s.a.value, s.b.value, s.ab.value);
      total.a.add(s.a.value);
      total.b.add(s.b.value);
      total.ab.add(s.ab.value);
    }
    const overlap = overlapFromSums(total.a.value, total.b.value, total.ab.value);
    if (overlap === null) {
      throw new StageInputError(`${total.a.value > 0 ? pathB : pathA}: the Fisher is zero everywhere; its overlap is undefined`);
    }
    return { overlap, groups: out };
  } finally {
    fa.close();
    fb.close();
  }
}

/** A Fisher split into chunks of examples: the chunk files and their example counts. */
export interface ChunkedFisher { files: string[]; examples: number[] }

/**
 * Bootstrap over chunks: each replicate resamples the chunks of each side with replacement,
 * forms the example-weighted mean Fisher and computes its overlap. Returns the percentile
 * interval. Cost: replicates × (Ka + Kb) passes over the parameters.
 */
export function bootstrapOverlap(a: ChunkedFisher, b: ChunkedFisher, replicates: number, level: number, seed: number): { low: number; high: number; level: number; replicates: number } {
  const rand = mulberry32(seed);
  const draw = (k: number, ex: number[]): Float64Array => {
    const w = new Float64Array(k);
    for (let i = 0; i < k; i++) w[Math.floor(rand() * k)] += 1;
    let tot = 0;
    for (let i = 0; i < k; i++) { w[i] *= ex[i]; tot += w[i]; }
    for (let i = 0; i < k; i++) w[i] /= tot;
    return w;
  };
  const Ka = a.files.length, Kb = b.files.length;
  const wa = Array.from({ length: replicates }, () => draw(Ka, a.examples));
  const wb = Array.from({ length: replicates }, () => draw(Kb, b.examples));
  const fa = a.files.map((f) => SafetensorsFile.open(f));
  const fb = b.files.map((f) => SafetensorsFile.open(f));
  try {
    const names = checkSameLayout(fa[0], fb[0]);
    for (const f of fa.slice(1)) checkSameLayout(fa[0], f);
    for (const f of fb.slice(1)) checkSameLayout(fa[0], f);
    const sa = new Float64Array(replicates), sb = new Float64Array(replicates);
    const sab = Array.from({ length: replicates }, () => new CompensatedSum());
    const ra = new Float64Array(BLOCK), rb = new Float64Array(BLOCK);
    for (const name of names) {
      const n = fa[0].info(name).shape.reduce((x, y) => x * y, 1);
      for (let off = 0; off < n; off += BLOCK) {
        const cnt = Math.min(BLOCK, n - off);
        const fullA = fa.map((f) => f.readFloat32Range(name, off, cnt));
        const fullB = fb.map((f) => f.readFloat32Range(name, off, cnt));
        // Only elements some chunk gives a non-zero Fisher can contribute (a zero adds exactly 0 to
        // every sum): the embedding rows of tokens the examples never use are most of a BERT's
        // parameters, so the replicates run over the few that matter, with the same result.
        const keep: number[] = [];
        for (let i = 0; i < cnt; i++) {
          let any = false;
          for (const c of fullA) if (c[i] !== 0) { any = true; break; }
          if (!any) for (const c of fullB) if (c[i] !== 0) { any = true; break; }
          if (any) keep.push(i);
        }
        const m = keep.length;
        const compact = (c: Float32Array) => (m === cnt ? c : Float32Array.from(keep, (i) => c[i]));
        const ca = fullA.map(compact);
        const cb = fullB.map(compact);
        for (let r = 0; r < replicates; r++) {
          ra.fill(0, 0, m);
          rb.fill(0, 0, m);
          for (let k = 0; k < Ka; k++) { const w = wa[r][k]; if (w) { const c = ca[k]; for (let i = 0; i < m; i++) ra[i] += w * c[i]; } }
          for (let k = 0; k < Kb; k++) { const w = wb[r][k]; if (w) { const c = cb[k]; for (let i = 0; i < m; i++) rb[i] += w * c[i]; } }
          // Plain float64 within a block, compensated across blocks.
          let s1 = 0, s2 = 0, s3 = 0;
          for (let i = 0; i < m; i++) { const x = ra[i], y = rb[i]; s1 += x; s2 += y; s3 += Math.sqrt(x * y); }
          sa[r] += s1; sb[r] += s2; sab[r].add(s3);
        }
      }
    }
    const values = Array.from({ length: replicates }, (_, r) => overlapFromSums(sa[r], sb[r], sab[r].value) ?? NaN).filter(Number.isFinite).sort((x, y) => x - y);
    if (values.length === 0) throw new StageInputError('bootstrap: every replicate had an all-zero Fisher');
    const q = (p: number): number => {
      const pos = p * (values.length - 1);
      const lo = Math.floor(pos), hi = Math.ceil(pos);
      return values[lo] + (values[hi] - values[lo]) * (pos - lo);
    };
    return { low: q((1 - level) / 2), high: q(1 - (1 - level) / 2), level, replicates };
  } finally {
    for (const f of [...fa, ...fb]) f.close();
  }
}

