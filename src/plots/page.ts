// The plots page: one self-contained HTML file (inline SVG drawn by Vega, images as data URIs,
// no script and no network), one figure per declared plot with every side it was asked for.
import { extname } from 'node:path';
import { parsePlotRows, plotSpec, renderSvg, type PlotSource } from '../../ml/plots/index.js';
import type { PlotData } from './collect.js';

const IMAGE_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.svg': 'image/svg+xml', '.webp': 'image/webp' };

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

export interface PlotsPage {
  html: string;
  /** Plots drawn (with at least one side's data). */
  drawn: number;
  /** Remarks: sides without data, files that could not be read. */
  notes: string[];
}

/** One plot's section; `drawn` counts the figures that did draw. */
async function figure(d: PlotData, notes: string[], drawn: { count: number }): Promise<string> {
  const { plot } = d;
  const title = plot.spec.title ?? plot.label;
  const parts: string[] = [`<h2>${escapeHtml(title)}</h2>`, `<p class="where">${escapeHtml(plot.label)} · stage ${escapeHtml(plot.stage)}</p>`];
  if (plot.spec.template === 'image') {
    const type = IMAGE_TYPES[extname(plot.label).toLowerCase()] ?? 'application/octet-stream';
    if (d.sources.length) drawn.count++;
    for (const s of d.sources) parts.push(`<figure><img alt="${escapeHtml(`${s.file} (${s.label})`)}" src="data:${type};base64,${s.bytes.toString('base64')}"><figcaption>${escapeHtml(s.label)}</figcaption></figure>`);
  } else if (d.sources.length) {
    const sources: PlotSource[] = [];
    for (const s of d.sources) {
      try {
        sources.push({ label: s.label, rows: parsePlotRows(s.bytes.toString('utf8'), s.file, `${s.file} (${s.label})`) });
      } catch (e) {
        notes.push((e as Error).message);
      }
    }
    if (sources.length) {
      try {
        const svg = await renderSvg(plotSpec({ ...plot.spec, template: plot.spec.template }, sources, plot.label));
        parts.push(`<figure class="chart">${svg}</figure>`);
        drawn.count++;
      } catch (e) {
        notes.push(`${plot.label}: ${(e as Error).message}`);
      }
    }
  }
  for (const m of d.missing) {
    const text = `${m.label}: no data (${m.reason})`;
    parts.push(`<p class="missing">${escapeHtml(text)}</p>`);
    notes.push(`${plot.label}: ${text}`);
  }
  return `<section>${parts.join('\n')}</section>`;
}

export async function renderPlotsPage(title: string, subtitle: string, data: PlotData[]): Promise<PlotsPage> {
  const notes: string[] = [];
  const sections: string[] = [];
  const drawn = { count: 0 };
  for (const d of data) sections.push(await figure(d, notes, drawn));
  const body = data.length ? sections.join('\n') : '<p class="missing">No stage declares plots (add `plots: [file]` to a stage).</p>';
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #222; margin: 0; }
main { max-width: 980px; margin: 0 auto; padding: 20px 28px 60px; }
h1 { font-size: 22px; margin: 0 0 2px; } h2 { font-size: 17px; margin: 28px 0 2px; }
p.sub, p.where { color: #666; margin: 0 0 10px; } p.missing { color: #8a4b00; font-style: italic; }
figure { margin: 8px 0 14px; overflow-x: auto; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 12.5px; }
</style></head>
<body><main>
<h1>${escapeHtml(title)}</h1>
<p class="sub">${escapeHtml(subtitle)}</p>
${body}
</main></body></html>
`;
  return { html, drawn: drawn.count, notes };
}
