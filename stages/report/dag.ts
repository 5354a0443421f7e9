// The pipeline DAG, drawn left to right with a simple layered layout: a stage's column is the
// length of the longest path from a source to it, and rows within a column are ordered by the
// mean row of its neighbours (a few barycentre sweeps), which removes most edge crossings in
// pipelines of the size people write by hand.

import { AXIS, INK, MUTED } from './palette.js';
import { el, emptyChart, escapeXml, idFragment, svgDocument, textNode, textWidth } from './svg.js';

export interface DagStage {
  name: string;
  type: string;
  needs: readonly string[];
  status?: string;
  key?: string | null;
  /** A family node (a foreach/matrix stage drawn once): its members' full names. */
  members?: readonly string[];
}

/**
 * The DAG of stage families: the members of a foreach or matrix (NAME@item) become one node
 * NAME, typed "TYPE × N", with the edges between families. A pipeline of 60 stages reads as ~20.
 */
export function dagFamilies(stages: readonly DagStage[]): DagStage[] {
  const family = (n: string) => (n.includes('@') ? n.slice(0, n.indexOf('@')) : n);
  const byFamily = new Map<string, DagStage[]>();
  for (const s of stages) {
    const f = family(s.name);
    if (!byFamily.has(f)) byFamily.set(f, []);
    byFamily.get(f)!.push(s);
  }
  return [...byFamily].map(([name, members]) => {
    const types = [...new Set(members.map((m) => m.type))];
    const needs = [...new Set(members.flatMap((m) => m.needs.map(family)))].filter((n) => n !== name && byFamily.has(n));
    const failed = members.find((m) => m.status !== undefined && /fail|error/i.test(m.status));
    return {
      name, needs,
      type: members.length > 1 ? `${types.join(', ')} × ${members.length}` : types[0]!,
      status: failed?.status ?? (members.length === 1 ? members[0]!.status : undefined),
      key: members.length === 1 ? members[0]!.key : undefined,
      members: members.length > 1 ? members.map((m) => m.name) : undefined,
    };
  });
}

export interface DagLayout {
  /** Stage names per column, in row order. */
  columns: string[][];
  /**
   * Every slot per column in row order: stages, and the waypoints of edges that skip columns
   * (ids starting with NUL), so long edges are routed between nodes instead of through them.
   */
  slots: string[][];
  /** One route per edge (only between stages that exist): from, waypoints, to. */
  routes: Array<{ from: string; to: string; via: string[] }>;
}

/** Waypoint ids cannot clash with stage names, which never contain NUL. */
export function isWaypoint(id: string): boolean {
  return id.startsWith('\u0000');
}

export function layoutDag(stages: readonly DagStage[]): DagLayout {
  const byName = new Map(stages.map((s) => [s.name, s]));
  const edges: Array<[string, string]> = [];
  for (const s of stages) for (const need of new Set(s.needs)) if (byName.has(need) && need !== s.name) edges.push([need, s.name]);

  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (name: string): number => {
    const known = layer.get(name);
    if (known !== undefined) return known;
    // The engine rejects cycles before a report runs; guard anyway so a bad snapshot cannot hang.
    if (visiting.has(name)) return 0;
    visiting.add(name);
    const needs = byName.get(name)!.needs.filter((n) => byName.has(n) && n !== name);
    const d = needs.length === 0 ? 0 : 1 + Math.max(...needs.map(depth));
    visiting.delete(name);
    layer.set(name, d);
    return d;
  };
  for (const s of stages) depth(s.name);

  const columnCount = stages.length === 0 ? 0 : Math.max(...layer.values()) + 1;
  const slots: string[][] = Array.from({ length: columnCount }, () => []);
  for (const s of stages) slots[layer.get(s.name)!]!.push(s.name);

  // Split edges that skip columns into unit steps through waypoints (one per skipped column).
  const parents = new Map<string, string[]>(stages.map((s) => [s.name, []]));
  const children = new Map<string, string[]>(stages.map((s) => [s.name, []]));
  const link = (a: string, b: string) => { parents.get(b)!.push(a); children.get(a)!.push(b); };
  const routes: DagLayout['routes'] = [];
  let waypoints = 0;
  for (const [from, to] of edges) {
    const via: string[] = [];
    let prev = from;
    // A cycle-guarded snapshot can give an edge that goes backwards; draw it direct.
    for (let c = layer.get(from)! + 1; c < layer.get(to)!; c++) {
      const id = `\u0000${waypoints++}`;
      parents.set(id, []);
      children.set(id, []);
      slots[c]!.push(id);
      link(prev, id);
      via.push(id);
      prev = id;
    }
    link(prev, to);
    routes.push({ from, to, via });
  }

  const row = new Map<string, number>();
  slots.forEach((col) => col.forEach((n, i) => row.set(n, i)));
  const sweep = (col: string[], neighbours: Map<string, string[]>) => {
    const bary = new Map(col.map((n, i) => {
      const ns = neighbours.get(n)!;
      return [n, ns.length === 0 ? i : ns.reduce((s, m) => s + row.get(m)!, 0) / ns.length] as const;
    }));
    // Stable sort: ties keep the order the pipeline file lists them in.
    col.sort((a, b) => bary.get(a)! - bary.get(b)!);
    col.forEach((n, i) => row.set(n, i));
  };
  for (let iter = 0; iter < 4; iter++) {
    for (let c = 1; c < slots.length; c++) sweep(slots[c]!, parents);
    for (let c = slots.length - 2; c >= 0; c--) sweep(slots[c]!, children);
  }
  for (let c = 1; c < slots.length; c++) sweep(slots[c]!, parents);
  return { columns: slots.map((col) => col.filter((id) => !isWaypoint(id))), slots, routes };
}

export interface DagChartOptions {
  idPrefix: string;
  title: string;
}

export function dagChart(stages: readonly DagStage[], opts: DagChartOptions): string {
  if (stages.length === 0) return emptyChart('dag', 'no pipeline stages known');
  const { slots, routes } = layoutDag(stages);
  // Full names, never truncated: a DAG whose nodes read "evaluate-interp…" cannot be followed.
  // Columns get wider instead, and the chart scrolls sideways when it must.
  const nameLabels = new Map(stages.map((s) => [s.name, s.name]));
  const typeLabels = new Map(stages.map((s) => [s.name, s.type]));
  const nodeW = Math.max(110, ...stages.map((s) => Math.max(
    textWidth(nameLabels.get(s.name)!, 12) * 1.08, textWidth(typeLabels.get(s.name)!, 10)) + 22));
  const nodeH = 38;
  const gapX = 40;
  const gapY = 14;
  // A waypoint is a thin slot: enough to keep parallel long edges apart.
  const slotH = (id: string) => (isWaypoint(id) ? 6 : nodeH);
  const colHeight = (col: string[]) => col.reduce((h, id) => h + slotH(id), 0) + Math.max(0, col.length - 1) * gapY;
  const pad = 10;
  const innerH = Math.max(...slots.map(colHeight));
  const width = pad * 2 + slots.length * nodeW + (slots.length - 1) * gapX;
  const height = pad * 2 + innerH;

  const pos = new Map<string, { x: number; y: number }>();
  slots.forEach((col, c) => {
    let y = pad + (innerH - colHeight(col)) / 2;
    for (const id of col) {
      pos.set(id, { x: pad + c * (nodeW + gapX), y });
      y += slotH(id) + gapY;
    }
  });

  const arrowId = `${idFragment(opts.idPrefix)}-arrow`;
  const defs = el('marker', { id: arrowId, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    el('path', { d: 'M0 1L10 5L0 9z', fill: AXIS }));

  const body: string[] = [];
  const r = (v: number) => Math.round(v * 100) / 100;
  for (const { from, to, via } of routes) {
    // Exit a node at its right edge, run straight across each waypoint column, and join the
    // pieces with S-curves that leave and arrive horizontally.
    const a = pos.get(from)!;
    let x = a.x + nodeW;
    let y = a.y + nodeH / 2;
    let d = `M${r(x)} ${r(y)}`;
    for (const id of [...via, to]) {
      const p = pos.get(id)!;
      const x2 = id === to ? p.x - 1 : p.x;
      const y2 = p.y + slotH(id) / 2;
      const bend = Math.max(gapX / 2, (x2 - x) / 3);
      d += `C${r(x + bend)} ${r(y)} ${r(x2 - bend)} ${r(y2)} ${r(x2)} ${r(y2)}`;
      if (id !== to) d += `H${r(p.x + nodeW)}`;
      x = id === to ? x2 : p.x + nodeW;
      y = y2;
    }
    body.push(el('path', {
      class: 'mark', d, fill: 'none', stroke: AXIS, 'stroke-width': 1.1, 'marker-end': `url(#${arrowId})`,
    }, el('title', {}, escapeXml(`${from} → ${to}`))));
  }
  for (const s of stages) {
    const p = pos.get(s.name)!;
    const failed = s.status !== undefined && /fail|error/i.test(s.status);
    const tip = [`${s.name} (${s.type})`, s.members ? `stages: ${s.members.join(', ')}` : '', s.status ? `status: ${s.status}` : '', s.key ? `key: ${s.key}` : ''].filter(Boolean).join('\n');
    body.push(el('g', {}, [
      el('title', {}, escapeXml(tip)),
      el('rect', {
        class: 'mark', x: p.x, y: p.y, width: nodeW, height: nodeH, rx: 5,
        fill: s.type === 'report' ? '#dfe9f3' : '#f5f6f7', stroke: failed ? INK : '#9aa3ab',
        'stroke-width': failed ? 1.6 : 1, 'stroke-dasharray': failed ? '4 2' : undefined,
      }),
      textNode(p.x + nodeW / 2, p.y + 16, nameLabels.get(s.name)!, { 'text-anchor': 'middle', 'font-weight': 600, fill: INK }),
      textNode(p.x + nodeW / 2, p.y + 30, typeLabels.get(s.name)!, { 'text-anchor': 'middle', 'font-size': 10, fill: MUTED }),
    ]));
  }
  return svgDocument(width, height, body, { chart: 'dag', title: opts.title, defs });
}
