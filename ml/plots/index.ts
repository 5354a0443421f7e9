// Plots shared by `fisherflow plots` and the report stage: data files as rows, a template as a
// Vega-Lite spec, the spec rendered to SVG.
export { STEP_FIELD, parsePlotRows, plotFields, type Row } from './data.js';
export { plotSpec, type PlotDefinition, type PlotSource, type Template } from './spec.js';
export { renderSvg, scopeIds } from './render.js';
