// A command that reads params.yaml itself must see the params its key was computed with: while a
// run with `--set` or `--params` executes command stages, each params file holds the effective
// values, and the user's own text is put back afterwards (also after a failure or Ctrl-C).
//
// The original text waits in `.fisherflow/params-backup/` while the run lasts; a run that died
// (kill -9, power loss) leaves it there, and the next command that opens the workspace puts it
// back (`recoverParamsFiles`) before it reads anything.
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson, sha256 } from '../cache/hash.js';
import { flattenKeys, getDotted } from '../pipeline/params.js';
import { editYamlValues, writeYamlText, type ValueChange } from '../pipeline/yaml-edit.js';
import type { Workspace } from '../plan/workspace.js';
import { alive } from '../cache/workspace-lock.js';

interface Backup {
  /** Absolute path of the params file. */
  file: string;
  text: string;
  pid: number;
}

function backupDir(root: string): string {
  return join(root, '.fisherflow', 'params-backup');
}


/** Put back params files that a run which died left holding its overridden values. */
export function recoverParamsFiles(root: string): void {
  const dir = backupDir(root);
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.json')) continue;
    let b: Backup;
    try {
      b = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Backup;
    } catch {
      continue;
    }
    if (b.pid !== process.pid && alive(b.pid)) continue; // that run is still going
    writeYamlText(b.file, b.text);
    rmSync(join(dir, name), { force: true });
  }
}

/** Each params file's values that differ from the effective params (leaf by leaf). */
function overridden(ws: Workspace): Array<{ file: string; name: string; changes: ValueChange[] }> {
  const out: Array<{ file: string; name: string; changes: ValueChange[] }> = [];
  for (const f of ws.pipeline.paramsFiles.files) {
    const changes: ValueChange[] = [];
    for (const [key, value] of Object.entries(flattenKeys(f.values))) {
      const now = getDotted(ws.pipeline.params, key).value;
      if (canonicalJson(now) !== canonicalJson(value)) changes.push({ path: key.split('.'), old: value, new: now, added: false });
    }
    if (changes.length) out.push({ file: join(ws.runDir, f.name), name: f.name, changes });
  }
  return out;
}

/**
 * Write the effective values into the params files that differ from them; returns what puts
 * the files back (a no-op when nothing was written).
 */
export function writeEffectiveParams(ws: Workspace, note: (message: string) => void): () => void {
  const edits = overridden(ws);
  if (edits.length === 0) return () => {};
  const holds = (name: string, changes: ValueChange[]) => `${name} holds ${changes.map((c) => `${c.path.join('.')}=${JSON.stringify(c.new)}`).join(', ')}`;
  if (ws.runDir !== ws.pipeline.dir) {
    // `exp run` (a private mirror, src/experiments/mirror.ts): the mirror's link to the user's
    // params file becomes the mirror's own file, deleted with the mirror; the user's is never written.
    for (const { file, name, changes } of edits) {
      const text = readFileSync(file, 'utf8');
      if (lstatSync(file).isSymbolicLink()) unlinkSync(file);
      writeYamlText(file, editYamlValues(text, [], changes));
      note(`${holds(name, changes)} in the experiment's copy of the project`);
    }
    return () => {};
  }
  const dir = backupDir(ws.root);
  mkdirSync(dir, { recursive: true });
  const written: Array<{ file: string; backup: string; text: string }> = [];
  const restore = () => {
    for (const w of written.splice(0)) {
      writeYamlText(w.file, w.text);
      ws.statCache.forget(w.file);
      rmSync(w.backup, { force: true });
    }
  };
  try {
    for (const { file, name, changes } of edits) {
      const text = readFileSync(file, 'utf8');
      const backup = join(dir, `${sha256(file).slice(0, 32)}.json`);
      writeYamlText(backup, JSON.stringify({ file, text, pid: process.pid } satisfies Backup));
      written.push({ file, backup, text });
      writeYamlText(file, editYamlValues(text, [], changes));
      note(`${holds(name, changes)} while this run lasts (its own text is put back after)`);
    }
  } catch (e) {
    restore();
    throw e;
  }
  return restore;
}
