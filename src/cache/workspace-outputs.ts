// The workspace is the user's: what fisherflow knows about the files command stages write there.
//
//   .fisherflow/outputs.json          workspace path → the content hash fisherflow last put there
//                                     (by running a stage or copying a result back from the store)
//   .fisherflow/pending/<id>.json     a journal per running command stage: its output paths and
//                                     where their previous content was moved aside
//   .fisherflow/aside/<id>/<n>        that previous content, until the stage succeeds
//   .fisherflow/restoring/            a stored result being copied back, before its rename into place
//
// A workspace output whose content is neither the stage's current result, nor what the lock file
// or outputs.json says fisherflow wrote, is the user's (edited, or made by another tool): the run
// refuses to replace it without --force (src/plan/plan.ts decides, src/run/run.ts refuses).
// Before a command runs, its existing outputs are moved aside; if the stage fails they are put
// back, and if the engine dies the next run puts them back (`recover`) before planning.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, relative, resolve } from 'node:path';
import { copyPath, makeWritable } from './store.js';

const FORMAT = 1;

interface Memory {
  format: number;
  /** Root-relative path → content hash. */
  files: Record<string, string>;
}

interface JournalEntry {
  /** Root-relative output path. */
  path: string;
  /** Root-relative place its previous content was moved to; null: there was nothing there. */
  aside: string | null;
}

interface Journal {
  stage: string;
  pid: number;
  entries: JournalEntry[];
}

/** The outputs of one running command stage, moved aside until it is known whether it succeeded. */
export interface MovedAside {
  /** The stage succeeded: drop the previous content. */
  done(): void;
  /** The stage failed or was interrupted: delete what it wrote and put the previous content back. */
  restore(): void;
}

export class WorkspaceOutputs {
  private memory?: Memory;
  private dirty = false;
  private pending?: Set<string>;

  /** `root`: the folder paths are recorded relative to; `stateDir`: where this state lives (`<root>/.fisherflow`). */
  constructor(
    private readonly root: string,
    private readonly stateDir: string,
  ) {}

  private get files(): Record<string, string> {
    if (!this.memory) {
      try {
        const m = JSON.parse(readFileSync(join(this.stateDir, 'outputs.json'), 'utf8')) as Memory;
        this.memory = m && m.format === FORMAT && m.files && typeof m.files === 'object' ? m : { format: FORMAT, files: {} };
      } catch {
        this.memory = { format: FORMAT, files: {} };
      }
    }
    return this.memory.files;
  }

  private key(abs: string): string {
    return relative(this.root, abs).split('\\').join('/');
  }

  /** The hash fisherflow last put at this path, if it did. */
  lastWritten(abs: string): string | undefined {
    return this.files[this.key(abs)];
  }

  remember(abs: string, hash: string): void {
    const k = this.key(abs);
    if (this.files[k] === hash) return;
    this.files[k] = hash;
    this.dirty = true;
  }

  /** Paths an interrupted run was writing when it stopped (their content is fisherflow's). */
  isPending(abs: string): boolean {
    if (!this.pending) {
      this.pending = new Set();
      for (const j of this.journals(false)) for (const e of j.journal.entries) this.pending.add(e.path);
    }
    return this.pending.has(this.key(abs));
  }

  save(): void {
    if (!this.dirty || !this.memory) return;
    mkdirSync(this.stateDir, { recursive: true });
    const file = join(this.stateDir, 'outputs.json');
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.memory));
    renameSync(tmp, file);
    this.dirty = false;
  }

  /**
   * Move the existing content of a command stage's output paths aside (journaled first, so that a
   * crash at any point leaves enough to put it back).
   */
  moveAside(stage: string, paths: string[]): MovedAside {
    const id = `${stage.replace(/[^A-Za-z0-9_.-]/g, '_')}-${process.pid}-${randomBytes(4).toString('hex')}`;
    const asideDir = join(this.stateDir, 'aside', id);
    const entries: JournalEntry[] = paths.map((p, i) => ({ path: this.key(p), aside: exists(p) ? this.key(join(asideDir, String(i))) : null }));
    const journalFile = join(this.stateDir, 'pending', `${id}.json`);
    mkdirSync(dirname(journalFile), { recursive: true });
    writeFileSync(journalFile, JSON.stringify({ stage, pid: process.pid, entries } satisfies Journal));
    for (const e of entries) if (e.aside) move(this.abs(e.path), this.abs(e.aside));
    const finish = () => {
      makeWritable(asideDir);
      rmSync(asideDir, { recursive: true, force: true });
      rmSync(journalFile, { force: true });
    };
    return {
      done: finish,
      restore: () => {
        this.putBack(entries);
        finish();
      },
    };
  }

  /**
   * Undo what runs that died left (their journals): delete the partial outputs and put the
   * previous content back. Call holding the workspace lock, before planning. Returns what it did.
   */
  recover(): string[] {
    const notes: string[] = [];
    for (const { file, journal } of this.journals(true)) {
      this.putBack(journal.entries);
      const id = file.slice(0, -'.json'.length);
      const asideDir = join(this.stateDir, 'aside', id);
      makeWritable(asideDir);
      rmSync(asideDir, { recursive: true, force: true });
      rmSync(join(this.stateDir, 'pending', file), { force: true });
      notes.push(`stage '${journal.stage}' was interrupted by a crash (pid ${journal.pid}); its outputs are back as they were before it ran: ${journal.entries.map((e) => e.path).join(', ')}`);
    }
    this.pending = undefined;
    // Copies a crashed run was placing (see `place`): never in the workspace yet, only garbage.
    const restoring = join(this.stateDir, 'restoring');
    makeWritable(restoring);
    rmSync(restoring, { recursive: true, force: true });
    return notes;
  }

  /**
   * Copy a stored result into the workspace: copied beside fisherflow's state first, then renamed
   * into place, so the output path never holds a half-copied file.
   */
  place(src: string, dest: string, hash: string): void {
    const tmp = join(this.stateDir, 'restoring', `${randomBytes(6).toString('hex')}`);
    copyPath(src, tmp);
    makeWritable(dest);
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dirname(dest), { recursive: true });
    try {
      move(tmp, dest);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    this.remember(dest, hash);
  }

  private abs(key: string): string {
    return resolve(this.root, key);
  }

  private putBack(entries: JournalEntry[]): void {
    for (const e of entries) {
      if (e.aside && !exists(this.abs(e.aside))) continue; // never moved (or already back): leave the path alone
      const p = this.abs(e.path);
      makeWritable(p);
      rmSync(p, { recursive: true, force: true });
      if (e.aside) move(this.abs(e.aside), p);
    }
  }

  /** `tidy`: delete journals cut short by a crash while being written (nothing was moved yet then). */
  private journals(tidy: boolean): Array<{ file: string; journal: Journal }> {
    const dir = join(this.stateDir, 'pending');
    if (!existsSync(dir)) return [];
    const out: Array<{ file: string; journal: Journal }> = [];
    for (const file of readdirSync(dir).sort()) {
      if (!file.endsWith('.json')) continue;
      try {
        const journal = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Journal;
        if (journal && Array.isArray(journal.entries)) out.push({ file, journal });
      } catch {
        if (tidy) rmSync(join(dir, file), { force: true });
      }
    }
    return out;
  }
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** rename, or copy and delete across filesystems. */
function move(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  try {
    renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    copyPath(from, to);
    makeWritable(from);
    rmSync(from, { recursive: true, force: true });
  }
}
