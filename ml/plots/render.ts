// Vega-Lite spec → SVG text, in Node without a browser (vega's headless renderer). vega and
// vega-lite load on first use (about a second): nothing that plans or runs stages imports them.

let counter = 0;

/** Render a Vega-Lite spec to an SVG document. */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vegaLite.compile(spec as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return scopeIds(await view.toSVG(), `p${++counter}`);
  } finally {
    view.finalize();
  }
}

/**
 * Vega numbers its clip paths and gradients from 1 in every chart; two charts inline in one HTML
 * page would then share ids (and one would clip with the other's path). Prefix them.
 */
export function scopeIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, (_m, id: string) => `id="${prefix}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${prefix}-${id})`)
    .replace(/href="#([^"]+)"/g, (_m, id: string) => `href="#${prefix}-${id}"`);
}
