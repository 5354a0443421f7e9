// A stage's `plots:`: which of its outputs hold series to draw (JSON, CSV or TSV rows) or images,
// and how (x and y fields, a template). Resolved here against the stage's outputs, so a plot
// always names an output (and a file inside it), which the lock file and the store can find at
// any revision; drawing is src/plots/.
import { UserError, type SourceLocation } from '../errors.js';
import { outputHolding } from './output-files.js';

export type PlotTemplate = 'line' | 'scatter' | 'bar' | 'confusion' | 'image';

/** As written in the YAML (`file` may list several files: drawn in one chart, as train and test curves). */
export type RawPlot = string | { file: string | string[]; x?: string; y?: string | string[]; template?: Exclude<PlotTemplate, 'image'>; title?: string; x_label?: string; y_label?: string };

export interface PlotFile {
  /** The output holding the file. */
  output: string;
  /** The file's path inside that output's folder ('' when the output is the file). */
  sub: string;
  /** As written: a command stage's workspace path, or a built-in's output name or path. */
  file: string;
}

export interface PlotSpec {
  /** The files drawn in this chart (one series or more each). */
  files: PlotFile[];
  x?: string;
  y?: string[];
  template: PlotTemplate;
  title?: string;
  xLabel?: string;
  yLabel?: string;
}

const IMAGE_RE = /\.(png|jpe?g|gif|svg|webp)$/i;

/**
 * Resolve plot entries against a stage's outputs (`outs`: name → path). A command stage's file
 * that no output covers becomes an output of its own (as `metrics:` files do); a built-in's must
 * be one of its outputs or inside one.
 */
export function resolvePlots(raw: RawPlot[], outs: Record<string, string>, builtin: boolean, locate: (index: number) => SourceLocation): PlotSpec[] {
  return raw.map((entry, i) => {
    const e = typeof entry === 'string' ? { file: entry } : entry;
    const files = (Array.isArray(e.file) ? e.file : [e.file]).map((written): PlotFile => {
      const file = written.replace(/^\.\//, '').replace(/\/+$/, '');
      const held = outputHolding(outs, file);
      if (!held && builtin) throw new UserError(`plots: '${written}' is not an output of this stage, nor a file inside one (outputs: ${Object.entries(outs).map(([k, p]) => `${k} (${p})`).join(', ')})`, locate(i));
      return { ...(held ?? { output: file, sub: '' }), file: written };
    });
    const images = files.filter((f) => IMAGE_RE.test(f.file)).length;
    if (images && (files.length > 1 || (typeof entry === 'object' && (entry.x || entry.y || entry.template)))) {
      throw new UserError(`plots: '${files[0].file}' is an image: give it alone, without x, y and template (those are for data files: JSON, CSV, TSV)`, locate(i));
    }
    const spec: PlotSpec = { files, template: images ? 'image' : (e as { template?: PlotTemplate }).template ?? 'line' };
    const o = e as Exclude<RawPlot, string>;
    if (o.x !== undefined) spec.x = o.x;
    if (o.y !== undefined) spec.y = Array.isArray(o.y) ? o.y : [o.y];
    if (o.title !== undefined) spec.title = o.title;
    if (o.x_label !== undefined) spec.xLabel = o.x_label;
    if (o.y_label !== undefined) spec.yLabel = o.y_label;
    if (spec.template === 'confusion' && (!spec.x || spec.y?.length !== 1)) {
      throw new UserError('plots: a confusion plot needs x (the actual class field) and one y (the predicted class field)', locate(i));
    }
    return spec;
  });
}
