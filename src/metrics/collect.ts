// The metrics a lock file points at. A lock entry names the run's key; its run record in the
// store names the metrics file. When the store no longer has it (gc, another machine), a caller
// may offer a fallback copy (the workspace file, or the file committed in git) — used only when
// its content hash is the one the lock recorded, so a metric is never shown for the wrong run.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '../cache/hash.js';
import type { ContentStore } from '../cache/store.js';
import type { LockFile, LockStage } from '../cache/lockfile.js';
import { parseMetricsText, type FlatMetrics } from './flatten.js';
import { splitOutputEntry } from '../pipeline/output-files.js';

export interface MetricsFileRef {
  /** How the file is named to users: a command stage's workspace path, else `stage/path`. */
  file: string;
  stage: string;
  output: string;
  /** Command stages: path relative to the pipeline's folder. Built-ins: path in the output folder. */
  path: string;
  /** The file's path inside the output's folder ('' when the output is the file). */
  sub: string;
  /** The output's content hash (of its folder, when `sub` names a file inside it). */
  hash?: string;
}

export interface MetricsSnapshot {
  /** file label → dotted key → value, labels sorted. */
  files: Record<string, FlatMetrics>;
  /** Metrics files that could not be read, with why. */
  missing: Array<{ file: string; stage: string; reason: string }>;
}

/** Read a fallback copy: text, or undefined when there is none. */
export type MetricsFallback = (ref: MetricsFileRef, entry: LockStage) => string | undefined;

export function metricsFileRefs(lock: LockFile | undefined): MetricsFileRef[] {
  const refs: MetricsFileRef[] = [];
  for (const [stage, entry] of Object.entries(lock?.stages ?? {})) {
    for (const name of entry.metrics ?? []) {
      const { output, sub } = splitOutputEntry(name, Object.keys(entry.outs ?? {}));
      const o = entry.outs?.[output];
      const path = sub ? `${o?.path ?? output}/${sub}` : (o?.path ?? output);
      refs.push({ file: entry.type === 'command' ? path : `${stage}/${path}`, stage, output, path, sub, hash: o?.hash });
    }
  }
  return refs.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

export function metricsFromLock(lock: LockFile | undefined, store: ContentStore, fallback?: MetricsFallback): MetricsSnapshot {
  const snap: MetricsSnapshot = { files: {}, missing: [] };
  for (const ref of metricsFileRefs(lock)) {
    const entry = lock!.stages[ref.stage];
    if (!ref.hash) {
      snap.missing.push({ file: ref.file, stage: ref.stage, reason: 'the stage has not produced it yet' });
      continue;
    }
    // file label → text; a metrics output that is a folder contributes each JSON/YAML file in it.
    let texts: Array<[string, string]> | undefined;
    const record = store.readRecord(entry.key);
    if (record?.outputs[ref.output]) {
      try {
        texts = readMetricsPath(join(store.outputPath(record, ref.output), ref.sub), ref.file);
      } catch {
        texts = undefined;
      }
    }
    // A fallback copy of a file inside an output folder cannot be checked against the folder's hash.
    if (texts === undefined && fallback && !ref.sub) {
      const alt = fallback(ref, entry);
      if (alt !== undefined && sha256(Buffer.from(alt, 'utf8')) === ref.hash) texts = [[ref.file, alt]];
    }
    if (texts === undefined) {
      snap.missing.push({ file: ref.file, stage: ref.stage, reason: `its result (key ${entry.key.slice(0, 10)}) is not in the store; rerun the stage to see it` });
      continue;
    }
    if (texts.length === 0) snap.missing.push({ file: ref.file, stage: ref.stage, reason: 'the folder holds no .json, .yaml or .yml file' });
    for (const [label, text] of texts) {
      try {
        snap.files[label] = { ...(snap.files[label] ?? {}), ...parseMetricsText(text, label) };
      } catch (e) {
        snap.missing.push({ file: label, stage: ref.stage, reason: (e as Error).message });
      }
    }
  }
  const sorted: MetricsSnapshot['files'] = {};
  for (const k of Object.keys(snap.files).sort()) sorted[k] = snap.files[k];
  snap.files = sorted;
  return snap;
}

function readMetricsPath(path: string, label: string): Array<[string, string]> {
  if (!statSync(path).isDirectory()) return [[label, readFileSync(path, 'utf8')]];
  const out: Array<[string, string]> = [];
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(full).isDirectory()) walk(full, r);
      else if (/\.(json|ya?ml)$/i.test(name)) out.push([`${label}/${r}`, readFileSync(full, 'utf8')]);
    }
  };
  walk(path, '');
  return out;
}
