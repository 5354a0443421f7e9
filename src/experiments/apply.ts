// `fisherflow exp apply NAME`: write an experiment's params into the pipeline's `params:`, or
// into the params file each comes from (params.yaml). The YAML is edited as a document (see
// yaml-edit.ts), so comments and layout stay; only values that differ are touched.
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { deepMerge, type Params } from '../pipeline/params.js';
import { paramsFileOf, readWorkspaceParamsFiles } from '../pipeline/params-files.js';
import { differences, editYamlValues, writeYamlText, type ValueChange } from '../pipeline/yaml-edit.js';
import { parseSourceDocument, readInputText } from '../pipeline/source.js';
import { defaultPipelineFile, projectRoot } from '../plan/workspace.js';
import { findExperiment, type ExperimentRecord } from './records.js';

export interface AppliedParam {
  key: string;
  old: unknown;
  new: unknown;
  /** The pipeline did not declare it (the experiment ran on an older version of the YAML). */
  added: boolean;
  /** The params file it was written to (absent: the pipeline's `params:`). */
  file?: string;
}

export interface ApplyResult {
  experiment: ExperimentRecord;
  pipelineFile: string;
  changes: AppliedParam[];
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function applyExperiment(pipelineFile: string | undefined, name: string): ApplyResult {
  const file = resolve(pipelineFile ?? defaultPipelineFile());
  const root = projectRoot(dirname(file));
  const rel = relative(root, file).split('\\').join('/');
  const exp = findExperiment(root, name, rel);
  const text = readInputText(file, rel);
  // Same checks as loading (size, duplicate keys, syntax) with file:line:column errors.
  const current = parseSourceDocument(text, rel).value as { params?: Params; params_files?: unknown } | null;
  const have = (current && isMap(current) ? current.params : undefined) ?? {};
  const files = readWorkspaceParamsFiles(dirname(file), current?.params_files);
  const diffs: ValueChange[] = [];
  differences(exp.params, deepMerge(have, files.values), [], diffs);
  // Each value goes back where it lives: its params file, else the pipeline's `params:`.
  const byFile = new Map<string, ValueChange[]>();
  for (const d of diffs) {
    const target = paramsFileOf(files.sourceOf, d.path.join('.')) ?? '';
    byFile.set(target, [...(byFile.get(target) ?? []), d]);
  }
  for (const [target, changes] of byFile) {
    const path = target ? join(dirname(file), target) : file;
    writeYamlText(path, editYamlValues(target ? readFileSync(path, 'utf8') : text, target ? [] : ['params'], changes));
  }
  const where = (d: ValueChange) => paramsFileOf(files.sourceOf, d.path.join('.'));
  return { experiment: exp, pipelineFile: file, changes: diffs.map((d) => ({ key: d.path.join('.'), old: d.old, new: d.new, added: d.added, ...(where(d) ? { file: where(d) } : {}) })) };
}

