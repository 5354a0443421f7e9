// Heatmap of all pairwise Fisher overlaps: Fisher names on both axes, symmetric, diagonal 1.

import { AXIS, INK, MUTED, sequentialColor, textColorOn } from './palette.js';
import { linearScale, ticksBetween } from './scale.js';
import { el, emptyChart, escapeXml, idFragment, svgDocument, textNode, textWidth, truncate } from './svg.js';

export interface HeatmapOptions {
  /** Unique within the page: prefixes gradient ids. */
  idPrefix: string;
  title: string;
  /** Pairs to outline, keyed by `pairKey(a, b)`: shared → solid border, unshared → dashed. */
  kinds?: Map<string, string>;
}

/** Order-independent key of a pair of names. */
export function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

/** Colour domain: from the lowest off-diagonal value (rounded down to 0.1) to 1. */
export function heatmapDomain(values: number[]): [number, number] {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return [0, 1];
  const lo = Math.min(...finite, 1);
  const hi = Math.max(...finite, 1);
  const floor = Math.floor(lo * 10 + 1e-9) / 10;
  return [floor === hi ? floor - 0.1 : floor, hi];
}

export function overlapHeatmap(
  names: readonly string[],
  value: (a: string, b: string) => number | null | undefined,
  opts: HeatmapOptions,
): string {
  if (names.length === 0) return emptyChart('overlap-heatmap', 'no overlaps in this pipeline');
  const n = names.length;
  const cell = n <= 5 ? 68 : n <= 8 ? 56 : n <= 12 ? 44 : n <= 18 ? 32 : 24;
  const fontSize = cell >= 44 ? 12 : cell >= 32 ? 10 : 9;
  const labels = names.map((name) => truncate(name, 28));
  const labelW = Math.max(...labels.map((l) => textWidth(l, 12))) + 10;
  const colLabelH = labelW * Math.SQRT1_2 + 14;
  const left = labelW + 8;
  const top = colLabelH + 8;
  const grid = n * cell;
  const legendX = left + grid + 24;
  // Rotated column labels run up and to the right: the last one may reach past the legend.
  const width = Math.max(legendX + 70, left + grid - cell / 2 + labelW * Math.SQRT1_2 + 8);
  const height = top + grid + 16;

  const offDiagonal: number[] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
    const v = value(names[i]!, names[j]!);
    if (typeof v === 'number') offDiagonal.push(v);
  }
  const domain = heatmapDomain(offDiagonal);
  const t = (v: number) => (v - domain[0]) / (domain[1] - domain[0]);

  const body: string[] = [];
  const outlines: string[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const a = names[i]!;
      const b = names[j]!;
      const x = left + j * cell;
      const y = top + i * cell;
      const v = i === j ? 1 : value(a, b);
      const tip = `${a} ~ ${b}: ${typeof v === 'number' ? v.toFixed(4) : 'not computed'}`;
      if (typeof v === 'number' && Number.isFinite(v)) {
        const fill = sequentialColor(t(v));
        body.push(el('g', {}, [
          el('rect', { class: 'mark', x, y, width: cell, height: cell, fill, stroke: '#ffffff', 'stroke-width': 1 }, el('title', {}, escapeXml(tip))),
          cell >= 30
            ? textNode(x + cell / 2, y + cell / 2 + fontSize * 0.35, v.toFixed(cell >= 44 ? 3 : 2), {
              'text-anchor': 'middle', 'font-size': fontSize, fill: textColorOn(fill), 'font-variant-numeric': 'tabular-nums', 'pointer-events': 'none',
            })
            : '',
        ]));
      } else {
        // Not computed: a pale cell with a dash, so a missing pair never reads as a low overlap.
        body.push(el('g', {}, [
          el('rect', { class: 'mark', x, y, width: cell, height: cell, fill: '#f4f4f4', stroke: '#ffffff', 'stroke-width': 1 }, el('title', {}, escapeXml(tip))),
          textNode(x + cell / 2, y + cell / 2 + 4, '–', { 'text-anchor': 'middle', fill: '#aaaaaa' }),
        ]));
      }
      const kind = i !== j ? opts.kinds?.get(pairKey(a, b)) : undefined;
      if (kind === 'shared' || kind === 'unshared') {
        // Same contrast rule as the cell's number: a dark outline on a dark cell would vanish.
        const stroke = typeof v === 'number' && Number.isFinite(v) ? textColorOn(sequentialColor(t(v))) : INK;
        outlines.push(el('rect', {
          x: x + 2.5, y: y + 2.5, width: cell - 5, height: cell - 5, fill: 'none', stroke,
          'stroke-width': 1.6, 'stroke-dasharray': kind === 'unshared' ? '4 2' : undefined,
        }));
      }
    }
  }
  body.push(...outlines);

  labels.forEach((label, i) => {
    body.push(el('g', {}, [
      textNode(left - 8, top + i * cell + cell / 2 + 4, label, { 'text-anchor': 'end', fill: INK }, ),
      el('title', {}, escapeXml(names[i]!)),
    ]));
    const cx = left + i * cell + cell / 2;
    body.push(textNode(cx, top - 8, label, { transform: `rotate(-45 ${cx} ${top - 8})`, 'text-anchor': 'start', fill: INK }));
  });
  body.push(el('rect', { x: left, y: top, width: grid, height: grid, fill: 'none', stroke: AXIS, 'stroke-width': 1 }));

  // Colour legend: a vertical gradient with ticks.
  const gradId = `${idFragment(opts.idPrefix)}-ramp`;
  const stops: string[] = [];
  for (let k = 0; k <= 10; k++) stops.push(el('stop', { offset: `${k * 10}%`, 'stop-color': sequentialColor(1 - k / 10) }));
  const defs = el('linearGradient', { id: gradId, x1: 0, y1: 0, x2: 0, y2: 1 }, stops);
  const legendH = Math.min(grid, 220);
  const legendY = top;
  const ly = linearScale([domain[0], domain[1]], [legendY + legendH, legendY]);
  body.push(el('rect', { x: legendX, y: legendY, width: 12, height: legendH, fill: `url(#${gradId})`, stroke: AXIS, 'stroke-width': 0.5 }));
  const step = domain[1] - domain[0] > 0.5 ? 0.2 : 0.1;
  const first = Math.ceil(domain[0] / step - 1e-9) * step;
  for (const tick of ticksBetween(first, domain[1], step)) {
    if (tick > domain[1] + 1e-9) continue;
    const y = ly(tick);
    body.push(el('line', { x1: legendX + 12, x2: legendX + 16, y1: y, y2: y, stroke: AXIS }));
    body.push(textNode(legendX + 19, y + 4, tick.toFixed(1), { 'font-size': 10, fill: MUTED }));
  }
  body.push(textNode(legendX - 2, legendY + legendH + 14, 'overlap', { 'font-size': 10, fill: MUTED }));

  return svgDocument(width, height, body, { chart: 'overlap-heatmap', title: opts.title, defs });
}
