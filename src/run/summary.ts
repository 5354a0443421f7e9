// The pipeline's `summary:` — lines printed after a run, with stage outputs resolved to their
// paths in the store (or, with `print:`, a text output's content).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { UserError, didYouMean } from '../pipeline/errors.js';
import { getDotted } from '../pipeline/params.js';
import { parseExpression, renderString, type TemplateExpr } from '../pipeline/template.js';
import { planPipeline } from '../plan/plan.js';
import type { Workspace } from '../plan/workspace.js';

type SummaryItem = string | { print: string };

export function pipelineSummary(ws: Workspace, cwd = process.cwd()): string[] {
  const raw = (ws.pipeline.source.value as { summary?: SummaryItem[] }).summary;
  if (!raw?.length) return [];
  const plans = planPipeline(ws);
  const out: string[] = [];
  raw.forEach((item, i) => {
    const loc = ws.pipeline.source.locate(['summary', i]);
    const evaluate = (expr: TemplateExpr): unknown => {
      const seg = (k: number) => {
        const s = expr.segments[k];
        if (!s) return undefined;
        if (s.kind === 'expr') return s.expr.text;
        return s.value;
      };
      if (seg(0) === 'params') {
        const key = expr.segments.slice(1).map((_, k) => seg(k + 1)).join('.');
        const got = getDotted(ws.pipeline.params, key);
        if (!got.found) throw new UserError(`summary: unknown param '${key}'`, loc);
        return got.value;
      }
      if (seg(0) !== 'stages') throw new UserError(`summary: '${expr.text}' must be stages.NAME.outputs.KEY or params.X`, loc);
      let k = 1;
      let name = String(seg(k++));
      const idx: string[] = [];
      while (expr.segments[k] && expr.segments[k].kind !== 'name') idx.push(String(seg(k++)));
      if (idx.length) name = `${name}@${idx.join(',')}`;
      const output = seg(k + 1);
      const spec = ws.pipeline.stages.get(name);
      if (!spec) throw new UserError(`summary: unknown stage '${name}'${didYouMean(name, ws.pipeline.stages.keys())}`, loc);
      if (seg(k) !== 'outputs' || !output || !(output in spec.outs)) throw new UserError(`summary: '${expr.text}': expected stages.${name}.outputs.KEY with KEY one of ${Object.keys(spec.outs).join(', ')}`, loc);
      const plan = plans.get(name)!;
      if (plan.status !== 'up-to-date' || !plan.record) return `(${name} has no result)`;
      const p = ws.store.outputPath(plan.record, output);
      return relative(cwd, p).startsWith('..') ? p : relative(cwd, p);
    };
    if (typeof item === 'string') {
      out.push(String(renderString(item, evaluate)));
    } else {
      const path = String(renderString(item.print, evaluate));
      try {
        out.push(readFileSync(path, 'utf8').trimEnd());
      } catch {
        out.push(path);
      }
    }
  });
  void parseExpression;
  return out;
}
