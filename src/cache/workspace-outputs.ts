// The workspace is the user's: what fisherflow knows about the files command stages write there.
//
//   .fisherflow/outputs.json          workspace path → the content hash fisherflow last put there
//                                     (by running a stage or copying a result back from the store)
//   .fisherflow/pending/<run>.jsonl   the journal of a run: a line when a command stage starts (its
//                                     output paths, and where their previous content was moved
//                                     aside) and a line when it ends; removed when the run ends
//   .fisherflow/aside/<id>/<n>        that previous content, until the stage succeeds
//   .fisherflow/restoring/            a stored result being copied back, before its rename into place
//
// A workspace output whose content is neither the stage's current result, nor what the lock file
// or outputs.json says fisherflow wrote, is the user's (edited, or made by another tool): the run
// refuses to replace it without --force (src/plan/plan.ts decides, src/run/run.ts refuses).
// Before a command runs, its existing outputs are moved aside; if the stage fails they are put
// back, and if the engine dies the next run puts them back (`recover`) before planning.
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, relative, resolve } from 'node:path';
import { WriteError } from '../errors.js';
import { writeFileAtomic } from './atomic-write.js';
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

/** A journal line: a stage began (its outputs and what was moved aside), or ended. */
type JournalLine = { begin: string; stage: string; pid: number; entries: JournalEntry[] } | { end: string };

/** A stage that began and did not end (in a journal a dead run left). */
interface Unfinished {
  id: string;
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
  private journal?: { file: string; fd: number; open: number };

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
      for (const u of this.journals().unfinished) for (const e of u.entries) this.pending.add(e.path);
    }
    return this.pending.has(this.key(abs));
  }

  /** At the end of a run: write outputs.json if it changed; close the journal (deleted when every stage in it ended). */
  save(): void {
    const j = this.journal;
    if (j) {
      closeSync(j.fd);
      if (j.open === 0) rmSync(j.file, { force: true });
      this.journal = undefined;
    }
    if (!this.dirty || !this.memory) return;
    writeFileAtomic(join(this.stateDir, 'outputs.json'), JSON.stringify(this.memory), 'the workspace outputs record');
    this.dirty = false;
  }

  /** One line to this run's journal (a write to an open file: what a killed process wrote stays). */
  private log(line: JournalLine): void {
    const file = this.journal?.file ?? join(this.stateDir, 'pending', `${process.pid}-${randomBytes(4).toString('hex')}.jsonl`);
    try {
      if (!this.journal) {
        mkdirSync(dirname(file), { recursive: true });
        this.journal = { file, fd: openSync(file, 'a'), open: 0 };
      }
      writeSync(this.journal.fd, `${JSON.stringify(line)}\n`);
    } catch (e) {
      // A full disk: the stage does not start (nothing was moved yet), and the error names the journal.
      throw new WriteError(file, e, 'the run journal');
    }
    this.journal.open += 'begin' in line ? 1 : -1;
  }

  /**
   * Move the existing content of a command stage's output paths aside (journaled first, so that a
   * crash at any point leaves enough to put it back).
   */
  moveAside(stage: string, paths: string[]): MovedAside {
    const id = `${stage.replace(/[^A-Za-z0-9_.-]/g, '_')}-${process.pid}-${randomBytes(4).toString('hex')}`;
    const asideDir = join(this.stateDir, 'aside', id);
    const entries: JournalEntry[] = paths.map((p, i) => ({ path: this.key(p), aside: exists(p) ? this.key(join(asideDir, String(i))) : null }));
    this.log({ begin: id, stage, pid: process.pid, entries });
    for (const e of entries) if (e.aside) move(this.abs(e.path), this.abs(e.aside));
    const finish = () => {
      if (entries.some((e) => e.aside)) {
        makeWritable(asideDir);
        rmSync(asideDir, { recursive: true, force: true });
      }
      this.log({ end: id });
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
    const { files, unfinished } = this.journals();
    for (const u of unfinished) {
      this.putBack(u.entries);
      const asideDir = join(this.stateDir, 'aside', u.id);
      makeWritable(asideDir);
      rmSync(asideDir, { recursive: true, force: true });
      notes.push(`stage '${u.stage}' was interrupted by a crash (pid ${u.pid}); its outputs are back as they were before it ran: ${u.entries.map((e) => e.path).join(', ')}`);
    }
    for (const f of files) rmSync(f, { force: true });
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

  /** The journals left by runs that did not end cleanly, and the stages in them that never ended. */
  private journals(): { files: string[]; unfinished: Unfinished[] } {
    const dir = join(this.stateDir, 'pending');
    if (!existsSync(dir)) return { files: [], unfinished: [] };
    const files: string[] = [];
    const unfinished: Unfinished[] = [];
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith('.jsonl')) continue;
      const file = join(dir, name);
      files.push(file);
      const begun = new Map<string, Unfinished>();
      for (const text of readFileSync(file, 'utf8').split('\n')) {
        let line: JournalLine;
        try {
          line = JSON.parse(text) as JournalLine;
        } catch {
          continue; // an empty or cut last line: nothing was moved after it
        }
        if ('begin' in line && Array.isArray(line.entries)) begun.set(line.begin, { id: line.begin, stage: line.stage, pid: line.pid, entries: line.entries });
        else if ('end' in line) begun.delete(line.end);
      }
      unfinished.push(...begun.values());
    }
    return { files, unfinished };
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
