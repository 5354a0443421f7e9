// Line chart with one series per model (training loss against step). Series differ by hue and
// dash pattern, so the chart still reads in greyscale; missing values (null) break the line.

import { AXIS, GRID, INK, MUTED, seriesStyle } from './palette.js';
import { formatTick, linearScale, niceDomain } from './scale.js';
import { el, emptyChart, escapeXml, svgDocument, textNode, textWidth, truncate } from './svg.js';

export interface LinePoint {
  x: number;
  y: number | null;
}

export interface LineSeries {
  name: string;
  points: LinePoint[];
  /** Colour and dash pattern; default: the series' place in the palette. */
  style?: { color: string; dash: string };
}

export interface LineChartOptions {
  chart: string;
  title: string;
  xLabel: string;
  yLabel: string;
  emptyMessage: string;
  /** Fixed y range (e.g. [0, 1] for accuracies); default: fitted to the data. */
  yDomain?: [number, number];
  /** Plot area size in px (default 600 × 260); small multiples use less. */
  plotWidth?: number;
  plotHeight?: number;
}

/** SVG path data for the finite runs of a series (a null or non-finite y starts a new run). */
export function linePath(points: readonly LinePoint[], sx: (x: number) => number, sy: (y: number) => number): string {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (p.y === null || !Number.isFinite(p.y) || !Number.isFinite(p.x)) { pen = false; continue; }
    d += `${pen ? 'L' : 'M'}${Math.round(sx(p.x) * 100) / 100} ${Math.round(sy(p.y) * 100) / 100}`;
    pen = true;
  }
  return d;
}

export function lineChart(series: readonly LineSeries[], opts: LineChartOptions): string {
  const finite = series.flatMap((s) => s.points.filter((p): p is { x: number; y: number } => p.y !== null && Number.isFinite(p.y) && Number.isFinite(p.x)));
  if (finite.length === 0) return emptyChart(opts.chart, opts.emptyMessage);

  const xs = finite.map((p) => p.x);
  const ys = finite.map((p) => p.y);
  const xd = niceDomain(Math.min(0, ...xs), Math.max(...xs), 6);
  const yd = opts.yDomain ? niceDomain(Math.min(opts.yDomain[0], ...ys), Math.max(opts.yDomain[1], ...ys), 5) : niceDomain(Math.min(...ys), Math.max(...ys), 5);
  const names = series.map((s) => truncate(s.name, 28));
  const legendW = Math.max(...names.map((n) => textWidth(n, 12))) + 44;
  const left = 62;
  const top = 14;
  const plotW = opts.plotWidth ?? 600;
  const plotH = opts.plotHeight ?? 260;
  const width = left + plotW + 20 + legendW;
  const height = top + plotH + 48;
  const sx = linearScale(xd.domain, [left, left + plotW]);
  const sy = linearScale(yd.domain, [top + plotH, top]);

  const body: string[] = [];
  for (const t of yd.ticks) {
    body.push(el('line', { x1: left, x2: left + plotW, y1: sy(t), y2: sy(t), stroke: GRID }));
    body.push(textNode(left - 6, sy(t) + 4, formatTick(t, yd.step), { 'text-anchor': 'end', 'font-size': 11, fill: MUTED }));
  }
  for (const t of xd.ticks) {
    body.push(el('line', { x1: sx(t), x2: sx(t), y1: top + plotH, y2: top + plotH + 4, stroke: AXIS }));
    body.push(textNode(sx(t), top + plotH + 17, formatTick(t, xd.step), { 'text-anchor': 'middle', 'font-size': 11, fill: MUTED }));
  }
  body.push(el('path', { d: `M${left} ${top}V${top + plotH}H${left + plotW}`, stroke: AXIS, fill: 'none' }));
  body.push(textNode(left + plotW / 2, height - 6, opts.xLabel, { 'text-anchor': 'middle', fill: INK }));
  const yMid = top + plotH / 2;
  body.push(textNode(16, yMid, opts.yLabel, { transform: `rotate(-90 16 ${yMid})`, 'text-anchor': 'middle', fill: INK }));

  series.forEach((s, i) => {
    const style = s.style ?? seriesStyle(i);
    const d = linePath(s.points, sx, sy);
    const pts = s.points.filter((p) => p.y !== null && Number.isFinite(p.y));
    const parts: string[] = [el('title', {}, escapeXml(s.name))];
    if (d) parts.push(el('path', { class: 'mark', d, fill: 'none', stroke: style.color, 'stroke-width': 1.6, 'stroke-dasharray': style.dash || undefined, 'stroke-linejoin': 'round' }));
    // Markers only where there are few points: a lone point would otherwise be invisible.
    if (pts.length <= 30) {
      for (const p of pts) parts.push(el('circle', { class: 'mark', cx: sx(p.x), cy: sy(p.y!), r: 2.5, fill: style.color }));
    }
    body.push(el('g', {}, parts));

    const ly = top + 8 + i * 20;
    const lx = left + plotW + 20;
    body.push(el('line', { x1: lx, x2: lx + 28, y1: ly, y2: ly, stroke: style.color, 'stroke-width': 2, 'stroke-dasharray': style.dash || undefined }));
    body.push(el('g', {}, [textNode(lx + 34, ly + 4, names[i]!, { fill: INK }), el('title', {}, escapeXml(s.name))]));
  });

  return svgDocument(width, height, body, { chart: opts.chart, title: opts.title });
}
