// The `report` stage: one self-contained report.html (overlap table, pairwise heatmap, per-layer
// overlap, training curves and accuracies, the DAG, params, versions, lock keys), plus the same
// figures as standalone SVG files for a paper.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage, PATH_KEYWORD } from 'fisherflow';
import { renderReport } from './page.js';
import { plotsInputSchema, plotsSection, type ReportPlot } from './plots.js';
import { readOverlapFile, readTrainMetrics, type OverlapSet, type TrainedModel } from './report-data.js';

export interface ReportInputs {
  /** One overlap.json (from the overlap stage). */
  overlap?: string;
  /** Several overlap.json files by name, each drawn as its own section. */
  overlaps?: Record<string, string>;
  /** Model name → the train stage's metrics.json. */
  training?: Record<string, string>;
  /** Plot files (loss curves, ROC, confusion matrices) drawn as `fisherflow plots` draws them. */
  plots?: ReportPlot[];
  title?: string;
}

const pathInput = { type: 'string', minLength: 1, [PATH_KEYWORD]: true };

const stage = defineStage<ReportInputs>({
  stageApiVersion: 1,
  type: 'report',
  description: 'Self-contained HTML report (inline SVG): overlap table, pairwise heatmap, per-layer overlap, training curves, plots, DAG, params, versions and lock keys.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      overlap: { ...pathInput, description: 'An overlap.json written by the overlap stage.' },
      overlaps: {
        type: 'object',
        description: 'Several overlap.json files, by the name shown in the report.',
        additionalProperties: pathInput,
      },
      training: {
        type: 'object',
        description: 'Model name → metrics.json written by the train stage.',
        additionalProperties: pathInput,
      },
      plots: plotsInputSchema,
      title: { type: 'string', description: 'Heading of the report.', default: 'Fisher overlap report' },
    },
  },
  outputs: () => ({
    report: { path: 'report.html', kind: 'file', description: 'The report: one HTML file, no external resources.' },
    figures: { path: 'figures', kind: 'dir', description: 'Each chart as a standalone SVG file.' },
  }),
  resources: { cpu: 1 },
  wantsPipeline: true,
  check(inputs) {
    const problems: string[] = [];
    if (inputs.overlaps && Object.keys(inputs.overlaps).length === 0) problems.push('with.overlaps: give at least one name → overlap.json, or leave it out');
    if (inputs.overlap && inputs.overlaps && Object.values(inputs.overlaps).includes(inputs.overlap)) {
      problems.push('with.overlaps: repeats the file given as with.overlap');
    }
    return problems;
  },
  async run(ctx) {
    const { inputs } = ctx;
    const overlapSets: OverlapSet[] = [];
    if (inputs.overlap) overlapSets.push({ name: null, file: inputs.overlap, data: readOverlapFile(inputs.overlap, 'overlap') });
    for (const [name, file] of Object.entries(inputs.overlaps ?? {})) {
      overlapSets.push({ name, file, data: readOverlapFile(file, `overlaps.${name}`) });
    }
    const models: TrainedModel[] = Object.entries(inputs.training ?? {}).map(([name, file]) => ({
      name, file, metrics: readTrainMetrics(file, `training.${name}`),
    }));

    const plots = await plotsSection(inputs.plots ?? []);
    const report = renderReport({ title: inputs.title ?? 'Fisher overlap report', overlapSets, models, pipeline: ctx.pipeline, extraSections: plots ? [plots] : [] });
    Object.assign(report.figures, plots?.figures);
    writeFileSync(join(ctx.outDir, 'report.html'), report.html);
    const figureDir = join(ctx.outDir, 'figures');
    mkdirSync(figureDir, { recursive: true });
    for (const [file, svg] of Object.entries(report.figures)) {
      writeFileSync(join(figureDir, file), `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`);
    }
    for (const line of report.notebookLines) ctx.log(line);
    ctx.log(`report: ${join(ctx.outDir, 'report.html')} (${Object.keys(report.figures).length} figures)`);
  },
});

export default stage;
