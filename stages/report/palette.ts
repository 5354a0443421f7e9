// Colours of the report. Restrained, and chosen so that every distinction survives greyscale
// printing: the heatmap ramp is monotone in lightness, series differ by dash pattern as well as
// hue, and unshared bars are hatched as well as lighter than shared ones.

import { el, idFragment } from './svg.js';

export const INK = '#222222';
export const MUTED = '#666666';
export const GRID = '#e3e3e3';
export const AXIS = '#888888';

/** ColorBrewer "Blues" (sequential, single hue, lightness falls monotonically). */
const BLUES = ['#f7fbff', '#deebf7', '#c6dbef', '#9ecae1', '#6baed6', '#4292c6', '#2171b5', '#08519c', '#08306b'];

function hexToRgb(hex: string): [number, number, number] {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function rgbToHex([r, g, b]: [number, number, number]): string {
  return '#' + [r, g, b].map((c) => Math.round(c).toString(16).padStart(2, '0')).join('');
}

/** Colour of t ∈ [0, 1] on the sequential ramp (clamped). */
export function sequentialColor(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (BLUES.length - 1);
  const i = Math.min(BLUES.length - 2, Math.floor(x));
  const f = x - i;
  const a = hexToRgb(BLUES[i]!);
  const b = hexToRgb(BLUES[i + 1]!);
  return rgbToHex([a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f]);
}

/** Relative luminance (WCAG), to pick black or white text on a cell. */
export function luminance(hex: string): number {
  const [r, g, b] = hexToRgb(hex).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function textColorOn(fill: string): string {
  return luminance(fill) > 0.3 ? INK : '#ffffff';
}

/** Fill style of a pair kind in bar charts and table swatches. */
export interface KindStyle {
  label: string;
  color: string;
  /** Hatched fill for greyscale: diagonal lines over the colour. */
  hatch: boolean;
}

export function kindStyle(kind: string): KindStyle {
  switch (kind) {
    case 'shared': return { label: 'shared', color: '#1f4e79', hatch: false };
    case 'unshared': return { label: 'unshared', color: '#e3a15e', hatch: true };
    default: return { label: kind, color: '#9a9a9a', hatch: false };
  }
}

/** Series styles for line charts (models): hue plus dash pattern. */
const SERIES_COLORS = ['#1f4e79', '#b5542a', '#3f7f5f', '#6b4f8a', '#444444', '#8a6d1f'];
const SERIES_DASHES = ['', '7 3', '2 3', '9 3 2 3', '14 4', '4 2 1 2'];

/**
 * Bar series colours when bars are not split by kind: blues and greys of clearly different
 * lightness, and never the unshared orange, which would suggest a kind the data does not give.
 */
const BAR_COLORS = ['#1f4e79', '#8fb3d6', '#4d4d4d', '#d0d0d0', '#4f7fae', '#9a9a9a'];

export function seriesStyle(index: number): { color: string; dash: string } {
  return { color: SERIES_COLORS[index % SERIES_COLORS.length]!, dash: SERIES_DASHES[index % SERIES_DASHES.length]! };
}

export function barColor(index: number): string {
  return BAR_COLORS[index % BAR_COLORS.length]!;
}

/** A diagonal-hatch pattern over a base colour; returns the `<pattern>` markup and its url(). */
export function hatchPattern(idPrefix: string, name: string, color: string): { defs: string; fill: string } {
  const id = `${idFragment(idPrefix)}-hatch-${idFragment(name)}`;
  const defs = el('pattern', { id, width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' }, [
    el('rect', { width: 6, height: 6, fill: color }),
    el('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#ffffff', 'stroke-width': 2, 'stroke-opacity': 0.75 }),
  ]);
  return { defs, fill: `url(#${id})` };
}
