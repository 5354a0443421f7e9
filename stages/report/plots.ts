// The report's plots: files a pipeline's stages write (loss curves, ROC, confusion matrices),
// drawn with the same templates and the same Vega rendering as `fisherflow plots`.
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { PATH_KEYWORD } from 'fisherflow';
import { parsePlotRows, plotSpec, renderSvg, type Template } from '../../ml/plots/index.js';
import { escapeXml, html } from './svg.js';

export interface ReportPlot {
  file: string;
  x?: string;
  y?: string | string[];
  template?: Template;
  title?: string;
}

/** The `plots` input of the report stage. */
export const plotsInputSchema = {
  type: 'array',
  description: 'Plots to include: {file, x, y, template (line, scatter, bar, confusion), title}; file is a JSON, CSV or TSV series or an image.',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['file'],
    properties: {
      file: { type: 'string', minLength: 1, [PATH_KEYWORD]: true },
      x: { type: 'string' },
      y: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }] },
      template: { enum: ['line', 'scatter', 'bar', 'confusion'] },
      title: { type: 'string' },
    },
  },
};

const IMAGE_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.svg': 'image/svg+xml', '.webp': 'image/webp' };

/** The plots section and its figures (file name → SVG), or nothing when there are no plots. */
export async function plotsSection(plots: ReportPlot[]): Promise<{ id: string; label: string; html: string; figures: Record<string, string> } | undefined> {
  if (plots.length === 0) return undefined;
  const figures: Record<string, string> = {};
  const parts: string[] = [html('h2', {}, 'Plots')];
  for (const [i, p] of plots.entries()) {
    const name = basename(p.file);
    const title = p.title ?? name;
    const type = IMAGE_TYPES[extname(p.file).toLowerCase()];
    let body: string;
    if (type) {
      body = `<img alt="${escapeXml(title)}" src="data:${type};base64,${readFileSync(p.file).toString('base64')}">`;
    } else {
      const rows = parsePlotRows(readFileSync(p.file, 'utf8'), p.file, `plots[${i}] (${name})`);
      const y = p.y === undefined ? undefined : Array.isArray(p.y) ? p.y : [p.y];
      body = await renderSvg(plotSpec({ template: p.template ?? 'line', x: p.x, y }, [{ label: name, rows }], `plots[${i}] (${name})`));
      figures[`plot-${i + 1}.svg`] = body;
    }
    parts.push(html('figure', {}, [html('div', { class: 'chart' }, body), html('figcaption', {}, escapeXml(title))]));
  }
  return { id: 'plots', label: 'Plots', html: html('section', { id: 'plots' }, parts), figures };
}
