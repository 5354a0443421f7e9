// The content-addressed store.
//
//   objects/ab/cdef…/    one stage result: its output folder, read-only, named by its tree hash
//   runs/ab/<key>.json   run record: stage key → tree and per-output hashes (written last)
//   logs/<key>.log       stdout/stderr of the stage's last attempt with that key
//   work/<key>/          scratch kept across interrupted attempts (resume), removed on success
//   tmp/                 staging; anything here is garbage after a crash
//
// A result exists only once its run record exists, and the record is written (temp + rename)
// after the object is complete, so a crash at any point leaves nothing a later run trusts.
import { chmodSync, copyFileSync, constants, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { hashFileContent, hashPath, type TreeFile } from './hash.js';

export interface OutputRecord {
  /** Path inside the object (built-in: inside its output folder; command: workspace-relative). */
  path: string;
  kind: 'file' | 'dir';
  hash: string;
}

export interface RunRecord {
  version: 1;
  key: string;
  stage: string;
  type: string;
  tree: string;
  outputs: Record<string, OutputRecord>;
  /** [path in object, size, mtimeMs, hash] for each file, to detect damage cheaply. */
  files: Array<[string, number, number, string]>;
  seconds: number;
  createdAt: string;
  meta?: Record<string, unknown>;
}

export class ContentStore {
  constructor(readonly root: string) {}

  private ensure(sub: string): string {
    const p = join(this.root, sub);
    mkdirSync(p, { recursive: true });
    return p;
  }

  objectDir(tree: string): string {
    return join(this.root, 'objects', tree.slice(0, 2), tree.slice(2));
  }

  recordPath(key: string): string {
    return join(this.root, 'runs', key.slice(0, 2), `${key}.json`);
  }

  logPath(key: string): string {
    return join(this.ensure('logs'), `${key}.log`);
  }

  workDir(key: string): string {
    return this.ensure(join('work', key));
  }

  dropWorkDir(key: string): void {
    rmSync(join(this.root, 'work', key), { recursive: true, force: true });
  }

  /** A fresh empty staging folder. */
  staging(label: string): string {
    const dir = join(this.ensure('tmp'), `${label.replace(/[^A-Za-z0-9_.-]/g, '_')}-${process.pid}-${randomBytes(4).toString('hex')}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  readRecord(key: string): RunRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.recordPath(key), 'utf8')) as RunRecord;
    } catch {
      return undefined;
    }
  }

  hasRecord(key: string): boolean {
    return existsSync(this.recordPath(key));
  }

  /**
   * Move a finished staging folder into the store and record it under `key`.
   * `outputs` maps output name → path inside the staging folder.
   */
  commit(args: { key: string; stage: string; type: string; staging: string; outputs: Record<string, string>; seconds: number; meta?: Record<string, unknown> }): RunRecord {
    const outputs: Record<string, OutputRecord> = {};
    for (const [name, rel] of Object.entries(args.outputs)) {
      const full = join(args.staging, rel);
      if (!existsSync(full)) throw new Error(`declared output '${name}' (${rel}) was not written`);
      const h = hashPath(full);
      outputs[name] = { path: rel, kind: h.kind, hash: h.hash };
    }
    const tree = hashPath(args.staging);
    if (tree.kind !== 'dir') throw new Error('staging must be a folder');
    const objDir = this.objectDir(tree.hash);
    if (existsSync(objDir) && this.verifyFiles(objDir, tree.files.map((f) => [f.path, f.size, -1, f.hash])) === null) {
      rmSync(args.staging, { recursive: true, force: true });
    } else {
      rmSync(objDir, { recursive: true, force: true });
      makeReadOnly(args.staging);
      mkdirSync(dirname(objDir), { recursive: true });
      renameSync(args.staging, objDir);
    }
    const files: RunRecord['files'] = tree.files.map((f: TreeFile) => [f.path, f.size, statSync(join(objDir, f.path)).mtimeMs, f.hash]);
    const record: RunRecord = {
      version: 1,
      key: args.key,
      stage: args.stage,
      type: args.type,
      tree: tree.hash,
      outputs,
      files,
      seconds: Math.round(args.seconds * 1000) / 1000,
      createdAt: new Date().toISOString(),
      ...(args.meta ? { meta: args.meta } : {}),
    };
    const recPath = this.recordPath(args.key);
    mkdirSync(dirname(recPath), { recursive: true });
    const tmp = `${recPath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(record, null, 1));
    renameSync(tmp, recPath);
    return record;
  }

  /** null when the object is intact, else what is wrong. Unchanged size+mtime means unchanged (store files are read-only). */
  verify(record: RunRecord): string | null {
    return this.verifyFiles(this.objectDir(record.tree), record.files);
  }

  private verifyFiles(objDir: string, files: Array<[string, number, number, string]>): string | null {
    for (const [rel, size, mtime, hash] of files) {
      const p = join(objDir, rel);
      let st;
      try {
        st = statSync(p);
      } catch {
        return `store entry is missing ${rel || 'its file'}`;
      }
      if (st.size !== size) return `store entry ${rel} was modified (size ${st.size}, expected ${size})`;
      if (st.mtimeMs !== mtime && hashFileContent(p) !== hash) return `store entry ${rel} was modified (content hash differs)`;
    }
    return null;
  }

  removeRecord(key: string): void {
    rmSync(this.recordPath(key), { force: true });
  }

  /** Path of an output of a recorded result. */
  outputPath(record: RunRecord, output: string): string {
    const o = record.outputs[output];
    if (!o) throw new Error(`result ${record.key} has no output ${output}`);
    return join(this.objectDir(record.tree), o.path);
  }

  /** All run records (for gc). */
  *records(): Generator<RunRecord> {
    const runs = join(this.root, 'runs');
    if (!existsSync(runs)) return;
    for (const shard of readdirSync(runs)) {
      for (const f of readdirSync(join(runs, shard))) {
        if (!f.endsWith('.json')) continue;
        try {
          yield JSON.parse(readFileSync(join(runs, shard, f), 'utf8')) as RunRecord;
        } catch {
          /* a damaged record is garbage */
        }
      }
    }
  }

  *objects(): Generator<string> {
    const objs = join(this.root, 'objects');
    if (!existsSync(objs)) return;
    for (const shard of readdirSync(objs)) for (const rest of readdirSync(join(objs, shard))) yield shard + rest;
  }

  removeObject(tree: string): void {
    const dir = this.objectDir(tree);
    makeWritable(dir);
    rmSync(dir, { recursive: true, force: true });
  }

  clearTmp(): void {
    const tmp = join(this.root, 'tmp');
    if (existsSync(tmp)) {
      makeWritable(tmp);
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

function makeReadOnly(path: string): void {
  const st = lstatSync(path);
  if (st.isDirectory()) {
    for (const n of readdirSync(path)) makeReadOnly(join(path, n));
  } else if (st.isFile()) chmodSync(path, st.mode & ~0o222);
}

export function makeWritable(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (st.isDirectory()) {
    chmodSync(path, st.mode | 0o700);
    for (const n of readdirSync(path)) makeWritable(join(path, n));
  } else if (st.isFile()) chmodSync(path, st.mode | 0o200);
}

/** Copy a file or folder (reflink where the filesystem can), replacing the destination. */
export function copyPath(src: string, dest: string): void {
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dirname(dest), { recursive: true });
  const st = lstatSync(src);
  if (st.isDirectory()) {
    mkdirSync(dest, { recursive: true });
    for (const n of readdirSync(src)) copyPath(join(src, n), join(dest, n));
  } else {
    copyFileSync(src, dest, constants.COPYFILE_FICLONE);
    chmodSync(dest, 0o644);
  }
}
