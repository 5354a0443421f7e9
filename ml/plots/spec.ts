// A plot as a Vega-Lite specification: one of four templates (line, scatter, bar, confusion) over
// one or more sources (revisions, experiments, files), each source a colour (a facet for
// confusion matrices). Vega-Lite does the charting; this file only says what to draw.
import { STEP_FIELD, plotFields, type Row } from './data.js';

export type Template = 'line' | 'scatter' | 'bar' | 'confusion';

export interface PlotDefinition {
  template: Template;
  x?: string;
  y?: string[];
  xLabel?: string;
  yLabel?: string;
}

export interface PlotSource {
  /** Shown in the legend: a revision, an experiment, a file. */
  label: string;
  rows: Row[];
}

// Field names of the long table the spec draws (chosen not to clash with user fields).
const X = '__x';
const Y = '__y';
const SERIES = '__series';

/** A self-contained Vega-Lite spec (data inline). `label` names the plot in errors. */
export function plotSpec(def: PlotDefinition, sources: PlotSource[], label: string): Record<string, unknown> {
  const all = sources.flatMap((s) => s.rows);
  const { x, y } = plotFields(all, def.x, def.y, label);
  const several = sources.length > 1;
  const values: Row[] = [];
  for (const s of sources) {
    s.rows.forEach((row, i) => {
      for (const field of y) {
        const series = [several ? s.label : '', y.length > 1 ? field : ''].filter(Boolean).join(': ') || field;
        values.push({ [X]: x === STEP_FIELD && !(STEP_FIELD in row) ? i : row[x], [Y]: row[field], [SERIES]: series });
      }
    });
  }
  const numericX = values.every((v) => typeof v[X] === 'number');
  const xTitle = def.xLabel ?? x;
  const yTitle = def.yLabel ?? (y.length === 1 ? y[0] : 'value');
  // The title is the caller's heading (the page's, the report's caption), not drawn twice.
  const base = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', data: { values }, config: { font: 'sans-serif' } };
  const oneSeries = new Set(values.map((v) => v[SERIES])).size <= 1;
  const color = { field: SERIES, type: 'nominal', title: null, legend: oneSeries ? null : { orient: 'bottom', labelLimit: 400 } };
  switch (def.template) {
    case 'line':
    case 'scatter':
      return {
        ...base,
        width: 560,
        height: 300,
        mark: def.template === 'line' ? { type: 'line', point: values.length <= 60 } : { type: 'point', filled: true },
        encoding: {
          x: { field: X, type: numericX ? 'quantitative' : 'ordinal', title: xTitle, ...(numericX ? { scale: { zero: false } } : {}) },
          y: { field: Y, type: 'quantitative', title: yTitle, scale: { zero: false } },
          color,
        },
      };
    case 'bar':
      return {
        ...base,
        width: 560,
        height: 300,
        mark: 'bar',
        encoding: {
          x: { field: X, type: 'nominal', title: xTitle, sort: null },
          xOffset: { field: SERIES },
          y: { field: Y, type: 'quantitative', title: yTitle },
          color,
        },
      };
    case 'confusion': {
      // Rows are (actual, predicted) pairs: count them per cell.
      const cell = { x: { field: Y, type: 'nominal', title: def.yLabel ?? y[0] }, y: { field: X, type: 'nominal', title: def.xLabel ?? x } };
      const layers = {
        layer: [
          { mark: 'rect', encoding: { ...cell, color: { aggregate: 'count', type: 'quantitative', title: 'count', scale: { scheme: 'blues' }, legend: { format: 'd' } } } },
          { mark: { type: 'text', fontSize: 12 }, encoding: { ...cell, text: { aggregate: 'count', type: 'quantitative' } } },
        ],
      };
      return several
        ? { ...base, facet: { column: { field: SERIES, type: 'nominal', title: null } }, spec: { width: 220, height: 220, ...layers }, resolve: { scale: { color: 'independent' } } }
        : { ...base, width: 260, height: 260, ...layers };
    }
  }
}
