// A plain float64 BERT-for-classification forward pass (no tfjs), written independently of
// ml/bert for the finite-difference gradient check.
import type { BertConfig } from '../../ml/bert/config.js';

export type Params64 = Map<string, Float64Array>;

function linear(x: Float64Array, T: number, I: number, W: Float64Array, b: Float64Array, O: number): Float64Array {
  const y = new Float64Array(T * O);
  for (let t = 0; t < T; t++) for (let o = 0; o < O; o++) {
    let s = b[o];
    for (let i = 0; i < I; i++) s += x[t * I + i] * W[o * I + i];
    y[t * O + o] = s;
  }
  return y;
}

function layerNorm(x: Float64Array, T: number, H: number, g: Float64Array, b: Float64Array, eps: number): Float64Array {
  const y = new Float64Array(T * H);
  for (let t = 0; t < T; t++) {
    let m = 0;
    for (let j = 0; j < H; j++) m += x[t * H + j];
    m /= H;
    let v = 0;
    for (let j = 0; j < H; j++) v += (x[t * H + j] - m) ** 2;
    v /= H;
    const r = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < H; j++) y[t * H + j] = (x[t * H + j] - m) * r * g[j] + b[j];
  }
  return y;
}

/** erf to ~1e-15 (series / continued fraction), enough for float64 finite differences. */
export function erf(x: number): number {
  const s = Math.sign(x), a = Math.abs(x);
  if (a < 2.5) {
    let term = a, sum = a;
    for (let n = 1; n < 60; n++) { term *= -a * a / n; sum += term / (2 * n + 1); }
    return s * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz)
  let f = a, C = a, D = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    D = a + an * D; D = 1 / D;
    C = a + an / C;
    f *= C * D;
  }
  return s * (1 - Math.exp(-a * a) / (f * Math.sqrt(Math.PI)));
}

/** Logits of one unpadded example. */
export function logits64(cfg: BertConfig, P: Params64, ids: number[], types: number[]): Float64Array {
  const H = cfg.hidden_size, T = ids.length, nh = cfg.num_attention_heads, hd = H / nh, I = cfg.intermediate_size;
  const g = (n: string) => P.get(n)!;
  let h: Float64Array = new Float64Array(T * H);
  for (let t = 0; t < T; t++) for (let j = 0; j < H; j++) {
    h[t * H + j] = g('bert.embeddings.word_embeddings.weight')[ids[t] * H + j] + g('bert.embeddings.position_embeddings.weight')[t * H + j] + g('bert.embeddings.token_type_embeddings.weight')[types[t] * H + j];
  }
  h = layerNorm(h, T, H, g('bert.embeddings.LayerNorm.weight'), g('bert.embeddings.LayerNorm.bias'), cfg.layer_norm_eps);
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}`;
    const lin = (x: Float64Array, n: string, inD: number, outD: number) => linear(x, T, inD, g(`${p}.${n}.weight`), g(`${p}.${n}.bias`), outD);
    const q = lin(h, 'attention.self.query', H, H), k = lin(h, 'attention.self.key', H, H), v = lin(h, 'attention.self.value', H, H);
    const ctx = new Float64Array(T * H);
    for (let a = 0; a < nh; a++) for (let t = 0; t < T; t++) {
      const sc = new Float64Array(T);
      let m = -Infinity;
      for (let u = 0; u < T; u++) {
        let s = 0;
        for (let d = 0; d < hd; d++) s += q[t * H + a * hd + d] * k[u * H + a * hd + d];
        sc[u] = s / Math.sqrt(hd);
        m = Math.max(m, sc[u]);
      }
      let z = 0;
      for (let u = 0; u < T; u++) { sc[u] = Math.exp(sc[u] - m); z += sc[u]; }
      for (let d = 0; d < hd; d++) {
        let s = 0;
        for (let u = 0; u < T; u++) s += (sc[u] / z) * v[u * H + a * hd + d];
        ctx[t * H + a * hd + d] = s;
      }
    }
    const ao = lin(ctx, 'attention.output.dense', H, H);
    for (let i = 0; i < ao.length; i++) ao[i] += h[i];
    const h1 = layerNorm(ao, T, H, g(`${p}.attention.output.LayerNorm.weight`), g(`${p}.attention.output.LayerNorm.bias`), cfg.layer_norm_eps);
    const inter = lin(h1, 'intermediate.dense', H, I).map((x) => 0.5 * x * (1 + erf(x / Math.SQRT2)));
    const o = lin(inter, 'output.dense', I, H);
    for (let i = 0; i < o.length; i++) o[i] += h1[i];
    h = layerNorm(o, T, H, g(`${p}.output.LayerNorm.weight`), g(`${p}.output.LayerNorm.bias`), cfg.layer_norm_eps);
  }
  const pooled = linear(h.subarray(0, H), 1, H, g('bert.pooler.dense.weight'), g('bert.pooler.dense.bias'), H).map(Math.tanh);
  return linear(pooled, 1, H, g('classifier.weight'), g('classifier.bias'), cfg.num_labels);
}

export function loss64(cfg: BertConfig, P: Params64, ids: number[], types: number[], label: number): number {
  const z = logits64(cfg, P, ids, types);
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, x) => s + Math.exp(x - m), 0));
  return lse - z[label];
}
