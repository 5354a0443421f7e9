// The data behind each plot the pipeline declares, at the working tree, at git revisions and in
// experiments. Plot definitions (x, y, template) are the current pipeline's; the files come from
// each side's lock file: the stage's result in the store, else (command stages) the workspace
// file or the file committed at that revision, when it is the one the lock file names.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContentStore } from '../cache/store.js';
import type { LockFile } from '../cache/lockfile.js';
import { sha256 } from '../cache/hash.js';
import type { PlotFile, PlotSpec } from '../pipeline/plots.js';
import type { Workspace } from '../plan/workspace.js';

export interface DeclaredPlot {
  stage: string;
  spec: PlotSpec;
  /** How the page names it: its files, a command stage's as workspace paths, else `stage/file`. */
  label: string;
  /** Per file: how the page names it, and (command stages) its path relative to the pipeline's folder. */
  files: Array<{ file: PlotFile; label: string; workspacePath?: string }>;
}

export interface PlotSide {
  /** 'workspace', a revision as named, or an experiment's name. */
  label: string;
  lock?: LockFile;
  /** A command stage's file as this side has it outside the store (git at a revision). */
  fallback?: (path: string) => Buffer | undefined;
  /** The working tree: its command stages' files are read where they are, as the user sees them. */
  workspaceDir?: string;
}

export interface PlotData {
  plot: DeclaredPlot;
  /** One per side and file that has data: labelled by the side, and by the file when there are several. */
  sources: Array<{ label: string; file: string; bytes: Buffer }>;
  /** Sides (and files) without data, and why. */
  missing: Array<{ label: string; reason: string }>;
}

export function declaredPlots(ws: Workspace): DeclaredPlot[] {
  const out: DeclaredPlot[] = [];
  for (const name of ws.dag.order) {
    const st = ws.pipeline.stages.get(name)!;
    for (const spec of st.plots) {
      const files = spec.files.map((f) => {
        const path = f.sub ? `${st.outs[f.output]}/${f.sub}` : st.outs[f.output];
        return st.kind === 'command' ? { file: f, label: path, workspacePath: path } : { file: f, label: `${name}/${path}` };
      });
      out.push({ stage: name, spec, label: files.map((f) => f.label).join(', '), files });
    }
  }
  return out;
}

function readSide(store: ContentStore, side: PlotSide, stage: string, f: DeclaredPlot['files'][number]): Buffer | string {
  if (side.workspaceDir && f.workspacePath) {
    const abs = join(side.workspaceDir, f.workspacePath);
    if (existsSync(abs)) return readFileSync(abs);
  }
  const entry = side.lock?.stages[stage];
  if (!entry) return 'the stage has not run there';
  const { output, sub } = f.file;
  const out = entry.outs?.[output];
  const record = store.readRecord(entry.key);
  const stored = record?.outputs[output];
  if (record && stored && stored.stored !== false) {
    const p = join(store.outputPath(record, output), sub);
    if (existsSync(p)) return readFileSync(p);
  }
  // Outside the store a file inside an output folder cannot be checked against the lock's hash.
  if (entry.type === 'command' && out && side.fallback) {
    const bytes = side.fallback(sub ? `${out.path}/${sub}` : out.path);
    if (bytes && (sub || sha256(bytes) === out.hash)) return bytes;
  }
  return `its result (key ${entry.key.slice(0, 10)}) is not in the store`;
}

/** Each declared plot's files on each side. */
export function collectPlots(store: ContentStore, plots: DeclaredPlot[], sides: PlotSide[]): PlotData[] {
  return plots.map((plot) => {
    const data: PlotData = { plot, sources: [], missing: [] };
    for (const side of sides) {
      for (const f of plot.files) {
        const label = [sides.length > 1 ? side.label : '', plot.files.length > 1 ? f.label : ''].filter(Boolean).join(': ') || side.label;
        const got = readSide(store, side, plot.stage, f);
        if (typeof got === 'string') data.missing.push({ label: plot.files.length > 1 ? `${side.label}: ${f.label}` : side.label, reason: got });
        else data.sources.push({ label, file: f.label, bytes: got });
      }
    }
    return data;
  });
}
