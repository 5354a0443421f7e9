// `exp run` never touches the workspace: its command stages run in a private mirror of the project
// (`.fisherflow/exp-run/<claim>/`, named like the experiment's claimed folder, so two experiments
// running at once never share one). The mirror is links to the project's files and folders,
// except along the paths of command-stage outputs, which are real folders there, so each stage
// reads the project's inputs and scripts as they are and writes its declared outputs into the
// mirror, never over the user's files. Results go to the shared store; the mirror is deleted after.
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { makeWritable } from '../cache/store.js';
import type { Workspace } from '../plan/workspace.js';

export interface Mirror {
  /** The mirror of the project root. */
  dir: string;
  /** The mirror of the pipeline's folder: where command stages run. */
  runDir: string;
  remove(): void;
}

/** `claim`: the experiment's claimed folder name (unique among running experiments). */
export function createMirror(ws: Workspace, claim: string): Mirror {
  // A mirror left by a crashed experiment of the same claim is garbage.
  const dir = join(ws.root, '.fisherflow', 'exp-run', claim);
  removeTree(dir);
  mkdirSync(dir, { recursive: true });

  const rel = (abs: string) => relative(ws.root, abs).split(sep).join('/');
  const skip = new Set([rel(join(ws.root, '.fisherflow')), rel(resolve(ws.store.root))]);
  const outs = new Set<string>();
  const folders = new Set<string>(['']);
  const addAncestors = (p: string) => {
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) folders.add(p.slice(0, i));
  };
  const pipelineRel = rel(ws.pipeline.dir);
  if (pipelineRel) {
    folders.add(pipelineRel);
    addAncestors(pipelineRel);
  }
  for (const st of ws.pipeline.stages.values()) {
    if (st.kind !== 'command') continue;
    for (const o of Object.values(st.outs)) {
      const p = rel(join(ws.pipeline.dir, o));
      outs.add(p);
      addAncestors(p);
    }
  }
  // Params files stay links, in real folders: `exp run` replaces a link by its own copy when --set
  // changes a value the file holds (src/run/effective-params.ts), never writing through it.
  for (const f of ws.pipeline.paramsFiles.files) addAncestors(rel(join(ws.pipeline.dir, f.name)));
  const fill = (folder: string) => {
    const from = folder ? join(ws.root, folder) : ws.root;
    if (!existsSync(from)) return;
    for (const entry of readdirSync(from)) {
      const child = folder ? `${folder}/${entry}` : entry;
      if (skip.has(child) || outs.has(child)) continue;
      if (folders.has(child)) {
        mkdirSync(join(dir, child), { recursive: true });
        fill(child);
      } else symlinkSync(join(ws.root, child), join(dir, child));
    }
  };
  fill('');
  const runDir = pipelineRel ? join(dir, pipelineRel) : dir;
  mkdirSync(runDir, { recursive: true });
  return { dir, runDir, remove: () => removeTree(dir) };
}

/** Delete a mirror: its links go, never what they point to. */
function removeTree(path: string): void {
  if (!existsSync(path)) return;
  makeWritable(path);
  rmSync(path, { recursive: true, force: true });
}
