// `fisherflow run` keeps what it writes out of git, as DVC does: the store (artifacts/), its own
// state (.fisherflow/) and the outputs of command stages get a line each in the project's
// .gitignore, added once (a run that finds them there adds nothing) and announced when added.
// Left out: metrics files (meant to be committed: `diff` reads them from commits), anything git
// already ignores, and anything outside the project (outputs git tracks are refused when the
// pipeline loads: src/plan/output-guard.ts). Only in a git repository.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Workspace } from '../plan/workspace.js';

/** '/a/b/' and 'a/b' are the same entry for this purpose. */
const bare = (line: string) => line.trim().replace(/^\//, '').replace(/\/+$/, '');

/** Those of `paths` git already ignores; none if git cannot say. */
function gitIgnored(root: string, paths: string[]): Set<string> {
  const r = spawnSync('git', ['check-ignore', '--', ...paths], { cwd: root, encoding: 'utf8' });
  if (r.error || (r.status !== 0 && r.status !== 1)) return new Set();
  return new Set(r.stdout.split('\n').filter(Boolean).map(bare));
}

/** The lines `run` wants in .gitignore, project-relative with a leading '/'. */
export function wantedIgnores(ws: Workspace): string[] {
  const inside = (abs: string) => {
    const rel = relative(ws.root, abs);
    return rel && !rel.startsWith('..') && !rel.startsWith(sep) ? `/${rel.split(sep).join('/')}` : undefined;
  };
  const wanted = [inside(ws.store.root), inside(join(ws.root, '.fisherflow'))].map((p) => p && `${p}/`);
  for (const spec of ws.pipeline.stages.values()) {
    if (spec.kind !== 'command') continue;
    for (const [name, rel] of Object.entries(spec.outs)) if (!spec.metrics.includes(name)) wanted.push(inside(join(ws.pipeline.dir, rel)));
  }
  return [...new Set(wanted.filter((p): p is string => p !== undefined))];
}

/** Adds the missing lines to `<root>/.gitignore`; returns them (empty when nothing was missing). */
export function ensureGitignored(ws: Workspace): string[] {
  if (!existsSync(join(ws.root, '.git'))) return [];
  const file = join(ws.root, '.gitignore');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const present = new Set(text.split('\n').map(bare));
  const missing = wantedIgnores(ws).filter((p) => !present.has(bare(p)));
  if (!missing.length) return [];
  const ignored = gitIgnored(ws.root, missing.map((p) => p.slice(1)));
  return addGitignoreLines(ws.root, missing.filter((p) => !ignored.has(bare(p))));
}

/** Appends to `<dir>/.gitignore` those of `lines` it lacks (however spelled: `/a/`, `a`); returns them. */
export function addGitignoreLines(dir: string, lines: string[]): string[] {
  const file = join(dir, '.gitignore');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const present = new Set(text.split('\n').map(bare));
  const missing = lines.filter((l) => !present.has(bare(l)));
  if (missing.length) writeFileSync(file, `${text}${text && !text.endsWith('\n') ? '\n' : ''}${missing.join('\n')}\n`);
  return missing;
}
