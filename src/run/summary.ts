// The pipeline's `summary:` — lines printed after a run, with stage outputs resolved to their
// paths in the store (or, with `print:`, a text output's content).
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UserError } from '../errors.js';
import { didYouMean } from '../pipeline/errors.js';
import { getDotted } from '../pipeline/params.js';
import { renderString, type TemplateExpr } from '../pipeline/template.js';
import type { Workspace } from '../plan/workspace.js';
import type { RunRecord } from '../cache/store.js';

type SummaryItem = string | { print: string } | { link: string; label?: string };
type Location = ReturnType<Workspace['pipeline']['source']['locate']>;

/**
 * The evaluator for `${{ stages.NAME.outputs.KEY }}` / `${{ params.X }}` in a summary or publish
 * entry: an output becomes its path in the store (relative to `cwd` when below it; absolute with
 * cwd null), or "(NAME has no result)".
 */
export function outputEvaluator(ws: Workspace, records: Map<string, RunRecord>, loc: Location, cwd: string | null, where = 'summary'): (expr: TemplateExpr) => unknown {
    return (expr: TemplateExpr): unknown => {
      const seg = (k: number) => {
        const s = expr.segments[k];
        if (!s) return undefined;
        if (s.kind === 'expr') return s.expr.text;
        return s.value;
      };
      if (seg(0) === 'params') {
        const key = expr.segments.slice(1).map((_, k) => seg(k + 1)).join('.');
        const got = getDotted(ws.pipeline.params, key);
        if (!got.found) throw new UserError(`${where}: unknown param '${key}'`, loc);
        return got.value;
      }
      if (seg(0) !== 'stages') throw new UserError(`${where}: '${expr.text}' must be stages.NAME.outputs.KEY or params.X`, loc);
      let k = 1;
      let name = String(seg(k++));
      const idx: string[] = [];
      while (expr.segments[k] && expr.segments[k].kind !== 'name') idx.push(String(seg(k++)));
      if (idx.length) name = `${name}@${idx.join(',')}`;
      const output = seg(k + 1);
      const spec = ws.pipeline.stages.get(name);
      if (!spec) throw new UserError(`${where}: unknown stage '${name}'${didYouMean(name, ws.pipeline.stages.keys())}`, loc);
      if (seg(k) !== 'outputs' || !output || !(output in spec.outs)) throw new UserError(`${where}: '${expr.text}': expected stages.${name}.outputs.KEY with KEY one of ${Object.keys(spec.outs).join(', ')}`, loc);
      const record = records.get(name);
      if (!record) return `(${name} has no result)`;
      const p = ws.store.outputPath(record, output);
      return cwd === null || relative(cwd, p).startsWith('..') ? p : relative(cwd, p);
    };
}

/** `records`: each stage's result, as the run just produced or reused them. */
export function pipelineSummary(ws: Workspace, records: Map<string, RunRecord>, cwd = process.cwd()): string[] {
  const raw = (ws.pipeline.source.value as { summary?: SummaryItem[] }).summary;
  if (!raw?.length) return [];
  const out: string[] = [];
  raw.forEach((item, i) => {
    const loc = ws.pipeline.source.locate(['summary', i]);
    const evaluate = outputEvaluator(ws, records, loc, cwd);
    if (typeof item === 'string') {
      out.push(String(renderString(item, evaluate)));
    } else if ('link' in item) {
      // A file:// URL a terminal can open with a click: an output in the store, or a path in the
      // project (relative to its root, as publish: paths are).
      const target = String(renderString(item.link, outputEvaluator(ws, records, loc, null)));
      const abs = isAbsolute(target) ? target : resolve(ws.root, target);
      out.push(`${item.label ?? 'Open'}: ${target.startsWith('(') ? target : pathToFileURL(abs).href}`);
    } else {
      const path = String(renderString(item.print, evaluate));
      try {
        out.push(readFileSync(path, 'utf8').trimEnd());
      } catch {
        out.push(path);
      }
    }
  });
  return out;
}
