// The `report` stage: one self-contained report.html (fusion accuracies and interpolation curves,
// overlap table, pairwise heatmap, per-layer
// overlap, training curves and accuracies, the DAG, params, versions, lock keys), plus the same
// figures as standalone SVG files for a paper.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage, PATH_KEYWORD } from 'fisherflow';
import { renderReport } from './page.js';
import { plotsInputSchema, plotsSection, type ReportPlot } from './plots.js';
import { readOverlapFile, readTrainMetrics, type OverlapSet, type TrainedModel } from './report-data.js';
import { interpolationPaths, readEvaluations } from './fusion-data.js';
import { accuracyText } from './fusion.js';
import { modelAccuracies } from './chance.js';
import { overlapRows, overlapSummaryText } from './overlap-rows.js';
import { targetMisses, targetMissText } from './targets.js';

export interface ReportInputs {
  /** One overlap.json (from the overlap stage). */
  overlap?: string;
  /** Several overlap.json files by name, each drawn as its own section. */
  overlaps?: Record<string, string>;
  /** Model name → the train stage's metrics.json. */
  training?: Record<string, string>;
  /** The evaluate stage's metrics.json of each model (on its own sets) and of each fused model (on every set). */
  fusion?: { models: Record<string, string>; fused: Record<string, string> };
  /** `PAIR,ALPHA` → the evaluate stage's metrics.json of the model interpolated at α. */
  interpolation?: Record<string, string>;
  /** Plot files (loss curves, ROC, confusion matrices) drawn as `fisherflow plots` draws them. */
  plots?: ReportPlot[];
  /** Split name → the accuracy each model should reach on it (e.g. synthetic_dev: 0.95). */
  targets?: Record<string, number>;
  title?: string;
}

const pathInput = { type: 'string', minLength: 1, [PATH_KEYWORD]: true };

const stage = defineStage<ReportInputs>({
  stageApiVersion: 1,
  type: 'report',
  description: 'Self-contained HTML report (inline SVG): fusion accuracy table and interpolation curves, overlaps with intervals and each model\'s accuracy (a warning where a model is at chance), per-pair per-layer overlap, per-epoch accuracy and loss, pairwise heatmap, plots, DAG, params, versions and lock keys; summary.txt for the terminal.',
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
      fusion: {
        type: 'object',
        additionalProperties: false,
        required: ['models', 'fused'],
        description: 'The fusion table: models (name → the evaluate stage\'s metrics.json of a model on its own sets) and fused (name → metrics.json of a fused model on the same sets). Sets are matched by name (KIND,SPLIT).',
        properties: {
          models: { type: 'object', minProperties: 1, additionalProperties: pathInput },
          fused: { type: 'object', minProperties: 1, additionalProperties: pathInput },
        },
      },
      interpolation: {
        type: 'object',
        minProperties: 1,
        description: 'Interpolation curves: PAIR,ALPHA → the evaluate stage\'s metrics.json of the model merged with weights [1 − α, α] (what a matrix over pair and alpha names); one chart per pair, linked to the overlap named PAIR.',
        additionalProperties: pathInput,
      },
      plots: plotsInputSchema,
      targets: {
        type: 'object',
        description: 'Split → the accuracy each model of fusion.models should reach on its set of that split (e.g. {synthetic_dev: 0.95, original_dev: 0.7}); misses are listed at the top of the report and in summary.txt.',
        additionalProperties: { type: 'number', minimum: 0, maximum: 1 },
      },
      title: { type: 'string', description: 'Heading of the report.', default: 'Fisher overlap report' },
    },
  },
  outputs: (inputs) => ({
    report: { path: 'report.html', kind: 'file', description: 'The report: one HTML file, no external resources.' },
    figures: { path: 'figures', kind: 'dir', description: 'Each chart as a standalone SVG file.' },
    ...(inputs.fusion ? { accuracy: { path: 'accuracy.txt', kind: 'file' as const, description: 'The fusion table as text (with fusion).' } } : {}),
    ...(inputs.overlap || inputs.overlaps ? { summary: { path: 'summary.txt', kind: 'file' as const, description: 'The overlaps as text: 4 significant digits, intervals, each model\'s accuracy beside its overlaps, at-chance warnings (with overlap or overlaps).' } } : {}),
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

    const fusion = inputs.fusion ? { models: readEvaluations(inputs.fusion.models, 'fusion.models'), fused: readEvaluations(inputs.fusion.fused, 'fusion.fused') } : undefined;
    const interpolation = inputs.interpolation ? interpolationPaths(readEvaluations(inputs.interpolation, 'interpolation'), 'interpolation') : undefined;

    const plots = await plotsSection(inputs.plots ?? []);
    const report = renderReport({ title: inputs.title ?? 'Fisher overlap report', overlapSets, models, pipeline: ctx.pipeline, fusion, interpolation, extraSections: plots ? [plots] : [], targets: inputs.targets });
    Object.assign(report.figures, plots?.figures);
    if (fusion) {
      const text = accuracyText(fusion);
      writeFileSync(join(ctx.outDir, 'accuracy.txt'), text);
      for (const line of text.trimEnd().split('\n')) ctx.log(line);
    }
    if (inputs.overlap || inputs.overlaps) {
      const accuracies = modelAccuracies(fusion?.models ?? []);
      const misses = targetMisses(accuracies.values(), inputs.targets).map(targetMissText);
      const text = overlapSummaryText(overlapRows(overlapSets, accuracies))
        + (misses.length ? `\nBELOW TARGET (not learnt to the pipeline's targets):\n${misses.map((m) => `  ${m}`).join('\n')}\n` : '');
      writeFileSync(join(ctx.outDir, 'summary.txt'), text);
    }
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
