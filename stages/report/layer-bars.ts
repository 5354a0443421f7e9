// Per-layer overlap bars: where in the network shared and unshared knowledge live. One band per
// parameter group (embeddings, encoder.layer.N.attention / .ffn, pooler, classifier), one bar per
// series in it: the pair kinds (mean over the pairs of that kind, whiskers from min to max) when
// pairs carry a shared/unshared kind, otherwise one bar per pair.

import type { OverlapPair } from './report-data.js';
import { AXIS, GRID, INK, MUTED, barColor, hatchPattern, kindStyle } from './palette.js';
import { linearScale, ticksBetween } from './scale.js';
import { el, emptyChart, escapeXml, svgDocument, textNode, textWidth, truncate } from './svg.js';

export interface GroupName {
  name: string;
  /** Short axis label, e.g. "L3 ffn". */
  label: string;
  order: number;
}

/** Sort order and short label of a parameter group name as the overlap stage writes it. */
export function describeGroup(name: string, firstSeen: number): GroupName {
  if (name === 'embeddings') return { name, label: 'embeddings', order: 0 };
  const m = /^encoder\.layer\.(\d+)(?:\.(.+))?$/.exec(name);
  if (m) {
    const layer = Number(m[1]);
    const part = m[2] ?? '';
    const sub = part === 'attention' ? 0 : part === 'ffn' ? 1 : 2;
    const short = part === 'attention' ? 'attn' : part;
    return { name, label: short ? `L${layer} ${short}` : `L${layer}`, order: 1 + layer * 3 + sub };
  }
  if (name === 'pooler') return { name, label: 'pooler', order: 1e6 };
  if (name === 'classifier') return { name, label: 'classifier', order: 1e6 + 1 };
  return { name, label: name, order: 2e6 + firstSeen };
}

export function orderedGroups(pairs: readonly OverlapPair[]): GroupName[] {
  const seen: string[] = [];
  for (const p of pairs) for (const g of Object.keys(p.groups ?? {})) if (!seen.includes(g)) seen.push(g);
  return seen.map((g, i) => describeGroup(g, i)).sort((x, y) => x.order - y.order);
}

export interface BarStat {
  mean: number;
  min: number;
  max: number;
  count: number;
}

export interface BarSeries {
  name: string;
  /** Pair kind when bars are split by kind; drives colour and hatching. */
  kind?: string;
  /** Pairs behind the series, for the tooltip. */
  pairs: string[];
  values: Map<string, BarStat>;
}

export function pairName(p: OverlapPair): string {
  return p.label ?? `${p.a} ~ ${p.b}`;
}

function stat(values: number[]): BarStat | undefined {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return undefined;
  return { mean: v.reduce((s, x) => s + x, 0) / v.length, min: Math.min(...v), max: Math.max(...v), count: v.length };
}

/** Bars by kind (means) when pairs have shared/unshared kinds, else one per pair; `perPair` forces one per pair. */
export function layerBarSeries(pairs: readonly OverlapPair[], perPair = false, labels?: Map<OverlapPair, string>): BarSeries[] {
  const withGroups = pairs.filter((p) => p.groups && Object.keys(p.groups).length > 0);
  const byKind = !perPair && withGroups.some((p) => p.kind === 'shared' || p.kind === 'unshared');
  const buckets = new Map<string, OverlapPair[]>();
  for (const p of withGroups) {
    const key = byKind ? (p.kind ?? 'other') : labels?.get(p) ?? pairName(p);
    if (!buckets.has(key)) buckets.set(key, []);
    buckets.get(key)!.push(p);
  }
  const rank = (k: string) => (k === 'shared' ? 0 : k === 'unshared' ? 1 : 2);
  const keys = [...buckets.keys()];
  if (byKind) keys.sort((x, y) => rank(x) - rank(y));
  return keys.map((key) => {
    const members = buckets.get(key)!;
    const groups = new Set(members.flatMap((p) => Object.keys(p.groups!)));
    const values = new Map<string, BarStat>();
    for (const g of groups) {
      const s = stat(members.map((p) => p.groups![g]).filter((x): x is number => typeof x === 'number'));
      if (s) values.set(g, s);
    }
    return { name: key, kind: byKind ? key : perPair ? members[0]!.kind : undefined, pairs: members.map(pairName), values };
  });
}

export interface LayerBarsOptions {
  idPrefix: string;
  title: string;
  /** One bar per pair even when pairs have kinds (coloured per pair, unshared ones hatched). */
  perPair?: boolean;
  /** Legend label of each pair (default: its label, or "a ~ b"). */
  labels?: Map<OverlapPair, string>;
}

export function layerBars(pairs: readonly OverlapPair[], opts: LayerBarsOptions): string {
  const groups = orderedGroups(pairs);
  const series = layerBarSeries(pairs, opts.perPair, opts.labels);
  if (groups.length === 0 || series.length === 0) return emptyChart('layer-bars', 'no per-layer overlaps in this pipeline');

  const s = series.length;
  const barW = s <= 2 ? 11 : s <= 4 ? 8 : 6;
  const bandW = Math.max(s * barW + 8, Math.min(64, 880 / groups.length));
  const labels = groups.map((g) => truncate(g.label, 22));
  const rotate = Math.max(...labels.map((l) => textWidth(l, 11))) > bandW - 4;
  const xLabelH = rotate ? Math.max(...labels.map((l) => textWidth(l, 11))) * Math.SQRT1_2 + 16 : 22;

  const legendItems = series.map((sr) => (sr.kind && !opts.perPair ? kindStyle(sr.kind).label : opts.perPair ? sr.name : truncate(sr.name, 32)));
  const legendH = 26;
  // A long first label, rotated, reaches left past its band: widen the margin for it.
  const left = Math.max(58, rotate ? textWidth(labels[0]!, 11) * Math.SQRT1_2 - bandW / 2 + 6 : 0);
  const top = legendH + 12;
  const plotW = groups.length * bandW;
  const plotH = 230;
  const legendText = (sr: BarSeries, i: number) => (sr.kind && !opts.perPair && sr.pairs.length > 1 ? `${legendItems[i]} (mean of ${sr.pairs.length} pairs)` : legendItems[i]!);
  const legendW = series.reduce((w, sr, i) => w + 34 + textWidth(legendText(sr, i), 12), 0);
  const width = Math.max(left + plotW + 16, 420, left + legendW);
  const height = top + plotH + xLabelH + 22;

  const maxValue = Math.max(1, ...series.flatMap((sr) => [...sr.values.values()].map((v) => v.max)));
  const y = linearScale([0, maxValue], [top + plotH, top]);
  const body: string[] = [];
  let defs = '';

  // Grid and y axis.
  for (const tick of ticksBetween(0, maxValue, maxValue > 1 ? 0.5 : 0.2)) {
    const ty = y(tick);
    body.push(el('line', { x1: left, x2: left + plotW, y1: ty, y2: ty, stroke: tick === 0 ? AXIS : GRID, 'stroke-width': 1 }));
    body.push(textNode(left - 6, ty + 4, tick.toFixed(1), { 'text-anchor': 'end', 'font-size': 11, fill: MUTED }));
  }
  body.push(el('line', { x1: left, x2: left, y1: top, y2: top + plotH, stroke: AXIS }));
  const yMid = top + plotH / 2;
  body.push(textNode(16, yMid, 'Fisher overlap', { transform: `rotate(-90 16 ${yMid})`, 'text-anchor': 'middle', fill: INK }));

  const fills = series.map((sr, i) => {
    // One bar per pair: the kind's own colour when each kind has one pair (as the table's swatches), else a colour per pair.
    const kindOnce = sr.kind !== undefined && series.filter((x) => x.kind === sr.kind).length === 1;
    const style = sr.kind && (!opts.perPair || kindOnce) ? kindStyle(sr.kind) : { color: barColor(i), hatch: sr.kind === 'unshared', label: sr.name };
    if (!style.hatch) return style.color;
    const p = hatchPattern(opts.idPrefix, `${i}-${sr.name}`, style.color);
    defs += p.defs;
    return p.fill;
  });

  groups.forEach((g, gi) => {
    const bandX = left + gi * bandW;
    const x0 = bandX + (bandW - s * barW) / 2;
    series.forEach((sr, si) => {
      const v = sr.values.get(g.name);
      if (!v) return;
      const bx = x0 + si * barW;
      const tip = `${g.name} · ${legendItems[si]}: ${v.count > 1 ? `mean ${v.mean.toFixed(4)} (min ${v.min.toFixed(4)}, max ${v.max.toFixed(4)}, ${v.count} pairs)` : v.mean.toFixed(4)}`;
      const by = y(Math.max(0, v.mean));
      body.push(el('rect', {
        class: 'mark', x: bx + 0.5, y: by, width: barW - 1, height: Math.max(0, y(0) - by), fill: fills[si], stroke: INK, 'stroke-width': 0.4,
      }, el('title', {}, escapeXml(tip))));
      if (v.count > 1 && v.max > v.min) {
        const cx = bx + barW / 2;
        body.push(el('path', {
          d: `M${cx} ${y(v.min)}V${y(v.max)}M${cx - 2} ${y(v.min)}H${cx + 2}M${cx - 2} ${y(v.max)}H${cx + 2}`,
          stroke: INK, 'stroke-width': 0.8, fill: 'none',
        }));
      }
    });
    const lx = bandX + bandW / 2;
    const ly = top + plotH + 14;
    body.push(el('g', {}, [
      rotate
        ? textNode(lx + 3, ly - 4, labels[gi]!, { transform: `rotate(-45 ${lx + 3} ${ly - 4})`, 'text-anchor': 'end', 'font-size': 11, fill: INK })
        : textNode(lx, ly, labels[gi]!, { 'text-anchor': 'middle', 'font-size': 11, fill: INK }),
      el('title', {}, escapeXml(g.name)),
    ]));
  });
  body.push(textNode(left + plotW / 2, height - 6, 'parameter group', { 'text-anchor': 'middle', fill: INK }));

  // Legend across the top.
  let lx = left;
  series.forEach((sr, i) => {
    const label = legendItems[i]!;
    const tip = `${label}: ${sr.pairs.join(', ')}`;
    body.push(el('g', {}, [
      el('rect', { x: lx, y: 8, width: 14, height: 12, fill: fills[i], stroke: INK, 'stroke-width': 0.5 }),
      textNode(lx + 20, 18, sr.kind && !opts.perPair && sr.pairs.length > 1 ? `${label} (mean of ${sr.pairs.length} pairs)` : label, { fill: INK }),
      el('title', {}, escapeXml(tip)),
    ]));
    lx += 34 + textWidth(sr.kind && !opts.perPair && sr.pairs.length > 1 ? `${label} (mean of ${sr.pairs.length} pairs)` : label, 12);
  });

  return svgDocument(width, height, body, { chart: opts.perPair ? 'layer-bars-per-pair' : 'layer-bars', title: opts.title, defs });
}
