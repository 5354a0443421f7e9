// Command-stage outputs are deleted before their stage runs, so an output path must never name
// something that is not the stage's to delete: the pipeline folder itself, the git repository,
// the store, fisherflow's own state, the pipeline/params/lock/config files, or a file git tracks (like
// DVC, which refuses outputs that git tracks). Checked when the pipeline is opened, before
// anything runs, with the file:line:column of the offending `outs:` entry. A metrics file may be
// tracked by git (as DVC allows for `cache: false` metrics): it is the stage's own small result,
// committed so that `diff` can read it at old revisions.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import { UserError, UserErrors } from '../errors.js';
import type { Pipeline, StageSpec } from '../pipeline/load.js';
import { CONFIG_FILE } from '../config/project-config.js';

export interface ProtectedPaths {
  /** The project root (where `.git` and `.fisherflow/` live). */
  root: string;
  storeRoot: string;
  lockPath: string;
  paramsFile?: string;
}

interface Guarded {
  /** '/'-separated, relative to the pipeline folder ('.' for the folder itself). */
  rel: string;
  /** `rel` + '/' (10,000 outputs are compared with every guarded path). */
  below: string;
  what: string;
  /** A folder whose inside is off limits too (not only the folder and its ancestors). */
  folder: boolean;
}

/** Refuse every command-stage output that would delete something that is not the stage's. */
export function checkOutputPaths(pipeline: Pipeline, p: ProtectedPaths): void {
  const guarded: Guarded[] = [];
  const guard = (abs: string, what: string, folder: boolean) => {
    const rel = relative(pipeline.dir, abs).split(sep).join('/') || '.';
    // Outside the pipeline folder no output can reach it (outs are relative, without '..').
    if (rel !== '..' && !rel.startsWith('../') && !isAbsolute(rel)) guarded.push({ rel, below: `${rel}/`, what, folder });
  };
  guard(pipeline.dir, 'the pipeline folder itself', false);
  guard(join(p.root, '.git'), 'the git repository (.git)', true);
  guard(resolve(p.storeRoot), `the store (${shown(pipeline.dir, p.storeRoot)})`, true);
  guard(join(p.root, '.fisherflow'), "fisherflow's state folder (.fisherflow)", true);
  guard(pipeline.file, `the pipeline file ${shown(pipeline.dir, pipeline.file)}`, false);
  guard(p.lockPath, `the lock file ${shown(pipeline.dir, p.lockPath)}`, false);
  guard(join(p.root, CONFIG_FILE), `the project's config file ${shown(pipeline.dir, join(p.root, CONFIG_FILE))}`, false);
  if (p.paramsFile) guard(resolve(p.paramsFile), `the params file ${shown(pipeline.dir, resolve(p.paramsFile))}`, false);
  for (const f of pipeline.paramsFiles.files) guard(resolve(pipeline.dir, f.name), `the params file ${f.name}`, false);

  const errors: UserError[] = [];
  const outs: Array<{ rel: string; stage: StageSpec; name: string }> = [];
  const at = (st: StageSpec, name: string) => pipeline.source.locate([...st.yamlPath, ...(st.outsYaml[name] ?? ['outs'])]);
  for (const st of pipeline.stages.values()) {
    if (st.kind !== 'command') continue;
    for (const [name, out] of Object.entries(st.outs)) {
      // Most paths are already normal ('out/s1.txt'): normalising 10,000 of them is measurable.
      const rel = NOT_NORMAL.test(out) ? posix.normalize(out.replace(/\\/g, '/')).replace(/\/+$/, '') || '.' : out;
      // An output that equals, contains or lies inside a guarded path ('.' is the first guarded path).
      const below = `${rel}/`;
      const hit = guarded.find((g) => rel === g.rel || g.rel.startsWith(below) || (g.folder && rel.startsWith(g.below)));
      if (hit) {
        const inside = hit.folder && rel.startsWith(hit.below);
        errors.push(new UserError(`stage '${st.name}': output '${out}' ${inside ? 'lies inside' : 'would delete'} ${hit.what}; a stage's outputs are deleted before it runs, so name only the files or folders the command writes`, at(st, name)));
        continue;
      }
      if (GIT_SEGMENT.test(rel)) {
        errors.push(new UserError(`stage '${st.name}': output '${out}' is or lies inside a git repository (.git); a stage's outputs are deleted before it runs`, at(st, name)));
        continue;
      }
      if (!st.metrics.includes(name)) outs.push({ rel, stage: st, name });
    }
  }
  if (errors.length) throw new UserErrors(errors);
  if (outs.length === 0) return;

  const tracked = gitTrackedFiles(pipeline.dir, p.root);
  if (!tracked || tracked.length === 0) return;
  // Each tracked file and the folders above it, so an output folder holding tracked files is found too.
  const byOut = new Map(outs.map((o) => [o.rel, o]));
  const found = new Map<string, string[]>();
  for (const file of tracked) {
    for (let i = file.length; i > 0; i = file.lastIndexOf('/', i - 1)) {
      const prefix = file.slice(0, i);
      if (byOut.has(prefix)) {
        const list = found.get(prefix) ?? [];
        list.push(file);
        found.set(prefix, list);
      }
    }
  }
  for (const [rel, files] of found) {
    const o = byOut.get(rel)!;
    const msg =
      files.length === 1 && files[0] === rel
        ? `stage '${o.stage.name}': output '${rel}' is tracked by git; remove it from git (git rm --cached ${rel}) or from outs`
        : `stage '${o.stage.name}': output '${rel}' holds files tracked by git (${files.slice(0, 3).join(', ')}${files.length > 3 ? `, and ${files.length - 3} more` : ''}); remove them from git or '${rel}' from outs`;
    errors.push(new UserError(msg, at(o.stage, o.name)));
  }
  if (errors.length) throw new UserErrors(errors);
}

/** '.', '', './x', 'a//b', 'a/./b', 'a/.', a backslash: paths `posix.normalize` would change. */
const NOT_NORMAL = /^\.?$|^\.\/|\/\/|\/\.(\/|$)|\\/;

/** A `.git` anywhere in a path: a nested repository (a registered submodule is also a tracked gitlink). */
const GIT_SEGMENT = /(^|\/)\.git(\/|$)/;

/**
 * Files git tracks under `dir`, relative to it ('/'-separated), from one `git ls-files`; null
 * outside a git repository or without git.
 */
export function gitTrackedFiles(dir: string, root: string): string[] | null {
  if (!existsSync(join(root, '.git'))) return null;
  const r = spawnSync('git', ['ls-files', '-z'], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
  if (r.error || r.status !== 0) return null;
  return r.stdout.split('\0').filter(Boolean);
}

function shown(dir: string, path: string): string {
  const rel = relative(dir, resolve(dir, path));
  return rel && !rel.startsWith('..') ? rel : resolve(dir, path);
}
