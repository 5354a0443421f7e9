// The pipeline's `publish:` — stable copies of outputs in the project (reports/latest.html, a path
// relative to the project root, never outside it),
// refreshed after each successful run, so a researcher always finds the latest report at one
// path. A copy is replaced atomically (temp file + rename), and only when it still holds what
// fisherflow last wrote there: a file someone edited, or one fisherflow never wrote, is left
// alone with a warning. What was written is remembered in .fisherflow/published.json.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { renderString } from '../pipeline/template.js';
import type { Workspace } from '../plan/workspace.js';
import type { RunRecord } from '../cache/store.js';
import { outputEvaluator } from './summary.js';

export interface PublishResult {
  /** Workspace paths written or already current. */
  published: string[];
  /** One line per copy left alone, saying why. */
  warnings: string[];
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Copies each `publish:` entry's output to its workspace path. */
export function publishOutputs(ws: Workspace, records: Map<string, RunRecord>): PublishResult {
  const raw = (ws.pipeline.source.value as { publish?: Record<string, string> }).publish;
  const result: PublishResult = { published: [], warnings: [] };
  if (!raw || Object.keys(raw).length === 0) return result;
  const ledgerPath = join(ws.root, '.fisherflow', 'published.json');
  let ledger: Record<string, string> = {};
  try { ledger = JSON.parse(readFileSync(ledgerPath, 'utf8')) as Record<string, string>; } catch { /* first publish */ }
  let changed = false;
  for (const [dest, template] of Object.entries(raw)) {
    const loc = ws.pipeline.source.locate(['publish', dest]);
    const source = String(renderString(template, outputEvaluator(ws, records, loc, null, 'publish')));
    const target = resolve(ws.root, dest);
    if (relative(ws.root, target).startsWith('..') || isAbsolute(relative(ws.root, target))) {
      throw new UserError(`publish: ${dest}: must be a path inside the project (${ws.root}), relative to it`, loc);
    }
    const shown = relative(process.cwd(), target) || target;
    if (source.startsWith('(')) { result.warnings.push(`publish ${dest}: ${source}`); continue; }
    if (!existsSync(source) || !statSync(source).isFile()) throw new UserError(`publish: ${dest}: ${source} is not a file (publish copies file outputs)`, loc);
    const key = relative(ws.root, target);
    const want = sha256File(source);
    if (existsSync(target)) {
      const have = statSync(target).isFile() ? sha256File(target) : null;
      if (have === want) { result.published.push(shown); if (ledger[key] !== want) { ledger[key] = want; changed = true; } continue; }
      if (have === null || ledger[key] !== have) {
        result.warnings.push(`publish: ${shown} was not overwritten: ${have === null ? 'it is not a file' : 'it changed since fisherflow wrote it (or fisherflow did not write it)'}; move it away to publish there again`);
        continue;
      }
    }
    mkdirSync(dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.tmp`;
    copyFileSync(source, tmp);
    renameSync(tmp, target);
    ledger[key] = want;
    changed = true;
    result.published.push(shown);
  }
  if (changed) {
    mkdirSync(dirname(ledgerPath), { recursive: true });
    const tmp = `${ledgerPath}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(ledger, null, 2)}\n`);
    renameSync(tmp, ledgerPath);
  }
  return result;
}

/** The absolute workspace paths `publish:` names (for the fast path to watch). */
export function publishedPaths(ws: Workspace): string[] {
  const raw = (ws.pipeline.source.value as { publish?: Record<string, string> }).publish;
  return Object.keys(raw ?? {}).map((dest) => resolve(ws.root, dest));
}
