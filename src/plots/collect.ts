// The data behind each plot the pipeline declares, at the working tree, at git revisions and in
// experiments. Plot definitions (x, y, template) are the current pipeline's; the files come from
// each side's lock file: the stage's result in the store, else (command stages) the workspace
// file or the file committed at that revision, when it is the one the lock file names.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContentStore } from '../cache/store.js';
import type { LockFile } from '../cache/lockfile.js';
import { sha256 } from '../cache/hash.js';
import type { PlotSpec } from '../pipeline/plots.js';
import type { Workspace } from '../plan/workspace.js';

export interface DeclaredPlot {
  stage: string;
  spec: PlotSpec;
  /** How the page names it: a command stage's workspace path, else `stage/file`. */
  label: string;
  /** Command stages: the file's path relative to the pipeline's folder. */
  workspacePath?: string;
}

export interface PlotSide {
  /** 'workspace', a revision as named, or an experiment's name. */
  label: string;
  lock?: LockFile;
  /** A command stage's file as this side has it outside the store (workspace, or git at a revision). */
  fallback?: (path: string) => Buffer | undefined;
  /** The working tree: its command stages' files are read where they are, as the user sees them. */
  workspaceDir?: string;
}

export interface PlotData {
  plot: DeclaredPlot;
  sources: Array<{ label: string; bytes: Buffer }>;
  /** Sides that have no data for this plot, and why. */
  missing: Array<{ label: string; reason: string }>;
}

export function declaredPlots(ws: Workspace): DeclaredPlot[] {
  const out: DeclaredPlot[] = [];
  for (const name of ws.dag.order) {
    const st = ws.pipeline.stages.get(name)!;
    for (const spec of st.plots) {
      const path = spec.sub ? `${st.outs[spec.output]}/${spec.sub}` : st.outs[spec.output];
      out.push(st.kind === 'command' ? { stage: name, spec, label: path, workspacePath: path } : { stage: name, spec, label: `${name}/${path}` });
    }
  }
  return out;
}

function readSide(store: ContentStore, side: PlotSide, plot: DeclaredPlot): Buffer | string {
  const { stage, spec } = plot;
  if (side.workspaceDir && plot.workspacePath) {
    const abs = join(side.workspaceDir, plot.workspacePath);
    if (existsSync(abs)) return readFileSync(abs);
  }
  const entry = side.lock?.stages[stage];
  if (!entry) return 'the stage has not run there';
  const out = entry.outs?.[spec.output];
  const record = store.readRecord(entry.key);
  const stored = record?.outputs[spec.output];
  if (record && stored && stored.stored !== false) {
    const p = join(store.outputPath(record, spec.output), spec.sub);
    if (existsSync(p)) return readFileSync(p);
  }
  // Outside the store only a whole-output file can be checked against the lock's hash.
  if (entry.type === 'command' && out && side.fallback) {
    const bytes = side.fallback(spec.sub ? `${out.path}/${spec.sub}` : out.path);
    if (bytes && (spec.sub || sha256(bytes) === out.hash)) return bytes;
  }
  return `its result (key ${entry.key.slice(0, 10)}) is not in the store`;
}

/** Each declared plot's file on each side. */
export function collectPlots(store: ContentStore, plots: DeclaredPlot[], sides: PlotSide[]): PlotData[] {
  return plots.map((plot) => {
    const data: PlotData = { plot, sources: [], missing: [] };
    for (const side of sides) {
      const got = readSide(store, side, plot);
      if (typeof got === 'string') data.missing.push({ label: side.label, reason: got });
      else data.sources.push({ label: side.label, bytes: got });
    }
    return data;
  });
}
