// Experiments on disk: `<project root>/.fisherflow/experiments/<name>/` holds the lock file the
// experiment's run wrote (`<pipeline basename>.lock`, so `fisherflow gc` keeps its results) and
// `experiment.json` (this record). The record is written last: a folder without it is an
// experiment that did not finish and is ignored.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../cache/atomic-write.js';
import { UserError } from '../errors.js';
import { didYouMean } from '../pipeline/errors.js';
import type { Params } from '../pipeline/params.js';
import type { FlatMetrics } from '../metrics/flatten.js';

export const RECORD_FILE = 'experiment.json';

export interface ExperimentRecord {
  version: 1;
  name: string;
  /** Pipeline file, relative to the project root, '/'-separated. */
  pipeline: string;
  /** The lock file's name inside the experiment folder. */
  lock: string;
  /** The commit the experiment ran on (HEAD at the time), null in a repository without commits. */
  baseCommit: string | null;
  baseBranch: string | null;
  createdAt: string;
  /** The `--set` overrides as given. */
  set: string[];
  paramsFile?: string;
  /** All params as resolved for the run (nested, as in the pipeline). */
  params: Params;
  /** Metrics file label → dotted key → value. */
  metrics: Record<string, FlatMetrics>;
  stages: { ran: string[]; cached: string[] };
}

export function experimentsDir(root: string): string {
  return join(root, '.fisherflow', 'experiments');
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function checkName(name: string): void {
  if (!NAME_RE.test(name) || name.endsWith('.lock')) {
    throw new UserError(`'${name}' is not a valid experiment name: use letters, digits, '.', '_' and '-' (starting with a letter or digit)`);
  }
}

/**
 * Create the experiment's folder and return it. Without a name, the next free `exp-N`.
 * mkdir (not recursive) is the claim, so two runs never share a folder.
 */
export function claimExperiment(root: string, name: string | undefined, replace: boolean): { name: string; dir: string; finalDir: string } {
  const base = experimentsDir(root);
  mkdirSync(base, { recursive: true });
  if (name !== undefined) {
    checkName(name);
    const dir = join(base, name);
    if (existsSync(join(dir, RECORD_FILE))) {
      if (!replace) throw new UserError(`experiment '${name}' already exists`, undefined, 'choose another --name, or pass --force to replace it');
      // The old experiment stays until the new one has succeeded (see finishExperiment).
      const staging = join(base, `.${name}.replacing-${process.pid}`);
      rmSync(staging, { recursive: true, force: true });
      mkdirSync(staging);
      return { name, dir: staging, finalDir: dir };
    }
    rmSync(dir, { recursive: true, force: true }); // an unfinished attempt
    mkdirSync(dir);
    return { name, dir, finalDir: dir };
  }
  const used = new Set(readdirSync(base));
  let n = 1;
  for (const u of used) {
    const m = /^exp-(\d+)$/.exec(u);
    if (m) n = Math.max(n, Number(m[1]) + 1);
  }
  for (;; n++) {
    const dir = join(base, `exp-${n}`);
    try {
      mkdirSync(dir);
      return { name: `exp-${n}`, dir, finalDir: dir };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** Write the record (last, so the folder counts as an experiment only when complete) and move a replacement into place. */
export function finishExperiment(claim: { dir: string; finalDir: string }, record: ExperimentRecord): void {
  writeFileAtomic(join(claim.dir, RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`, 'the experiment record');
  if (claim.dir !== claim.finalDir) {
    rmSync(claim.finalDir, { recursive: true, force: true });
    renameSync(claim.dir, claim.finalDir);
  }
}

/** Finished experiments (optionally of one pipeline), oldest first. */
export function listExperiments(root: string, pipeline?: string): Array<ExperimentRecord & { dir: string }> {
  const base = experimentsDir(root);
  if (!existsSync(base)) return [];
  const out: Array<ExperimentRecord & { dir: string }> = [];
  for (const name of readdirSync(base)) {
    if (name.startsWith('.')) continue; // a replacement still running
    const dir = join(base, name);
    const p = join(dir, RECORD_FILE);
    if (!existsSync(p)) continue;
    try {
      const rec = JSON.parse(readFileSync(p, 'utf8')) as ExperimentRecord;
      if (rec.version !== 1 || (pipeline !== undefined && rec.pipeline !== pipeline)) continue;
      out.push({ ...rec, dir });
    } catch {
      /* a damaged record: not an experiment we can show */
    }
  }
  return out.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.name < b.name ? -1 : 1));
}

export function findExperiment(root: string, name: string, pipeline?: string): ExperimentRecord & { dir: string } {
  const all = listExperiments(root, pipeline);
  const rec = all.find((r) => r.name === name);
  if (!rec) {
    const names = all.map((r) => r.name);
    throw new UserError(`no experiment named '${name}'${didYouMean(name, names)}`, undefined, names.length ? `experiments: ${names.join(', ')}` : "none recorded yet; create one with 'fisherflow exp run --set key=value'");
  }
  return rec;
}

export function removeExperiment(root: string, name: string, pipeline?: string): void {
  const rec = findExperiment(root, name, pipeline);
  rmSync(rec.dir, { recursive: true, force: true });
}
