// Minimal SVG/HTML string building for the report: every user string goes through `escapeXml`,
// every attribute value through `attr`, so names from a pipeline (stage names, eval sets, params)
// can never inject markup into the page.

/** Escapes text for XML/HTML content and attribute values. */
export function escapeXml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Record<string, AttrValue>;

const ATTR_NAME = /^[a-zA-Z_:][-a-zA-Z0-9_:.]*$/;
const TAG_NAME = /^[a-zA-Z][-a-zA-Z0-9:]*$/;

/** Coordinates rounded to 0.01 px: enough for any screen, and keeps the file small. */
export function num(n: number): string {
  if (!Number.isFinite(n)) return '0';
  const r = Math.round(n * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

function attrs(a: Attrs): string {
  let out = '';
  for (const [name, value] of Object.entries(a)) {
    if (value === undefined || value === null || value === false) continue;
    // Names are chosen by this code, never by users; a bad one is a programming error.
    if (!ATTR_NAME.test(name)) throw new Error(`invalid attribute name ${JSON.stringify(name)}`);
    if (value === true) out += ` ${name}`;
    else out += ` ${name}="${typeof value === 'number' ? num(value) : escapeXml(value)}"`;
  }
  return out;
}

/**
 * One element. `children` are already-built markup strings (use `textNode` or `escapeXml` for
 * user text); an absent or empty children list gives a self-closing element.
 */
export function el(tag: string, a: Attrs = {}, children?: string | readonly string[]): string {
  if (!TAG_NAME.test(tag)) throw new Error(`invalid tag name ${JSON.stringify(tag)}`);
  const inner = children === undefined ? '' : typeof children === 'string' ? children : children.join('');
  return inner === '' ? `<${tag}${attrs(a)}/>` : `<${tag}${attrs(a)}>${inner}</${tag}>`;
}

/** An HTML element; unlike `el`, never self-closing (HTML does not allow `<td/>`). */
export function html(tag: string, a: Attrs = {}, children?: string | readonly string[]): string {
  if (!TAG_NAME.test(tag)) throw new Error(`invalid tag name ${JSON.stringify(tag)}`);
  const inner = children === undefined ? '' : typeof children === 'string' ? children : children.join('');
  return `<${tag}${attrs(a)}>${inner}</${tag}>`;
}

/** A `<text>` element whose content is escaped user text. */
export function textNode(x: number, y: number, content: string, a: Attrs = {}): string {
  return el('text', { x, y, ...a }, escapeXml(content));
}

/** Shortens a label to `max` characters with an ellipsis (the full text goes into a tooltip). */
export function truncate(label: string, max: number): string {
  const chars = Array.from(label);
  return chars.length <= max ? label : chars.slice(0, Math.max(1, max - 1)).join('') + '…';
}

/** Rough width of a label in px for the report's sans-serif font (no DOM to measure with). */
export function textWidth(label: string, fontSize: number): number {
  return Array.from(label).length * fontSize * 0.58;
}

export const FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';

export interface SvgDocumentOptions {
  /** Identifies the chart in the page (`data-chart`), used by tests and styles. */
  chart: string;
  /** Accessible title, also shown as the tooltip of the whole figure. */
  title: string;
  /** Markup for `<defs>` (patterns, gradients, markers). */
  defs?: string;
}

/**
 * A standalone `<svg>` root: carries its own xmlns and font so the same string works inline in
 * the HTML page and saved as a `.svg` file for a paper.
 */
export function svgDocument(width: number, height: number, body: string | readonly string[], opts: SvgDocumentOptions): string {
  const w = Math.max(1, Math.ceil(width));
  const h = Math.max(1, Math.ceil(height));
  const content = [el('title', {}, escapeXml(opts.title))];
  if (opts.defs) content.push(el('defs', {}, opts.defs));
  content.push(typeof body === 'string' ? body : body.join(''));
  return el('svg', {
    xmlns: 'http://www.w3.org/2000/svg',
    viewBox: `0 0 ${w} ${h}`,
    width: w,
    height: h,
    role: 'img',
    'aria-label': opts.title,
    'data-chart': opts.chart,
    'font-family': FONT_FAMILY,
    'font-size': 12,
    fill: '#222',
  }, content);
}

/** A small placeholder figure for a chart that has no data, so a section never collapses. */
export function emptyChart(chart: string, message: string, width = 360, height = 60): string {
  return svgDocument(width, height, [
    el('rect', { x: 0.5, y: 0.5, width: width - 1, height: height - 1, fill: 'none', stroke: '#bbb', 'stroke-dasharray': '4 3', rx: 4 }),
    textNode(width / 2, height / 2 + 4, message, { 'text-anchor': 'middle', fill: '#666' }),
  ], { chart, title: message });
}

/** Makes a string safe to use inside an element id (patterns, gradients and markers). */
export function idFragment(value: string): string {
  const cleaned = value.replace(/[^a-zA-Z0-9_-]/g, '-');
  return /^[a-zA-Z]/.test(cleaned) ? cleaned : `x${cleaned}`;
}
