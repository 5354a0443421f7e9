// Linear scales and "nice" axis ticks (1, 2, 5 × 10^k steps), as in every plotting library.

export interface LinearScale {
  (value: number): number;
  domain: [number, number];
  range: [number, number];
}

export function linearScale(domain: [number, number], range: [number, number]): LinearScale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  // A zero-width domain (one point, constant series) maps to the middle instead of dividing by 0.
  const span = d1 - d0;
  const f = ((v: number) => (span === 0 ? (r0 + r1) / 2 : r0 + ((v - d0) / span) * (r1 - r0))) as LinearScale;
  f.domain = [d0, d1];
  f.range = [r0, r1];
  return f;
}

/** Step of about (max − min) / count, rounded to 1, 2 or 5 × 10^k. */
export function niceStep(min: number, max: number, count: number): number {
  const span = Math.abs(max - min);
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const raw = span / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const unit = raw / power;
  const nice = unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10;
  return nice * power;
}

/** Domain widened outward to whole steps, and the ticks on it. */
export function niceDomain(min: number, max: number, count = 5): { domain: [number, number]; ticks: number[]; step: number } {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return { domain: [0, 1], ticks: [0, 0.5, 1], step: 0.5 };
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const step = niceStep(min, max, count);
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  return { domain: [lo, hi], ticks: ticksBetween(lo, hi, step), step };
}

/** Ticks from lo to hi (inclusive) every `step`, free of floating-point fuzz (0.30000000000000004). */
export function ticksBetween(lo: number, hi: number, step: number): number[] {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  const ticks: number[] = [];
  const n = Math.round((hi - lo) / step);
  for (let i = 0; i <= n && i <= 1000; i++) ticks.push(Number((lo + i * step).toFixed(decimals)));
  return ticks;
}

/** Tick label: as few decimals as the step needs, and thousands as "2k" for step axes. */
export function formatTick(value: number, step: number): string {
  if (Math.abs(value) >= 10000 && step >= 1000) return `${Number((value / 1000).toFixed(step >= 10000 ? 0 : 1))}k`;
  const decimals = step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step) - 1e-9));
  return value.toFixed(decimals);
}
