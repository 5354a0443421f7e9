// The content-addressed store.
//
//   objects/ab/cdef…/    one stage result: its output folder, read-only, named by its tree hash
//   runs/ab/<key>.json   run record: stage key → tree and per-output hashes (written last)
//   logs/<key>.log       stdout/stderr of the stage's last attempt with that key
//   work/<key>/          scratch kept across interrupted attempts (resume), removed on success
//   tmp/<stage>-<rand>.<pid>@<host>.tmp/   a stage's staging folder while it runs
//   remote-uploads/      journals of large uploads to a remote in progress (src/cache/remote/s3.ts)
//   projects/<id>.json   registry: {"root", "locks": [...]}, one per project that ran with this
//                        store (id: hash of the project root); what `gc` must keep alive
//
// A result exists only once its run record exists, and the record is written (temp + rename)
// after the object is complete, so a crash at any point leaves nothing a later run trusts. A result
// fetched from a remote is installed the same way, once its files hash to what its record says. A
// crash leaves at most: an object without a record, a record temp file
// (`runs/ab/<key>.json.<pid>@<host>.tmp`), a staging folder, a log; all are garbage that `gc`
// collects — temp files and staging folders once their writer (pid, on this host) is dead.
//
// Several projects may share one store (`--store`, FISHERFLOW_STORE). Like git's worktrees, each
// registers itself in projects/ when it runs; `gc` keeps what any registered project's lock
// files and experiments reference, and forgets a project whose root is gone.
//
// Reading 10,000 small record files costs more than planning itself, so a workspace may keep a
// record cache (`useRecordCache`): the records it used last time, trusted per `runs/ab/` shard
// while that folder's mtime is unchanged (every record write, removal or rename changes it). The
// objects themselves are still checked file by file (`verify`) on every read.
import { chmodSync, copyFileSync, constants, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { WriteError } from '../errors.js';
import { tempPath, writeCacheFile, writeFileAtomic } from './atomic-write.js';
import { hashFileContent, hashPath, StatCache, type TreeFile } from './hash.js';

export interface OutputRecord {
  /** Path inside the object (built-in: inside its output folder; command: workspace-relative). */
  path: string;
  kind: 'file' | 'dir';
  hash: string;
  /** false: a `cache: false` output, recorded by its hash but kept in the workspace only. */
  stored?: false;
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

interface RecordCacheFile {
  format: number;
  store: string;
  /** shard (first two hex digits) → mtimeMs of `runs/<shard>/` when its records were read. */
  shards: Record<string, number>;
  records: Record<string, RunRecord>;
}

const RECORD_CACHE_FORMAT = 1;

/** An entry of the store's project registry (projects/<id>.json). */
export interface RegisteredProject {
  /** The project root (absolute). */
  root: string;
  /** Lock files (absolute) of the project's pipelines that ran with this store. */
  locks: string[];
}

interface RecordCache {
  file: string;
  shards: Record<string, number>;
  records: Record<string, RunRecord>;
  /** shard → mtimeMs now (null: no such folder), stat'ed once per process before any read. */
  now: Map<string, number | null>;
  /** Shards this process wrote to: their cached records are not trusted any more. */
  touched: Set<string>;
  /** Records read in this process, by key: what the next save keeps. */
  used: Map<string, RunRecord>;
  dirty: boolean;
}

export class ContentStore {
  private readonly objectsRoot: string;
  private recordCache?: RecordCache;

  constructor(readonly root: string) {
    this.objectsRoot = join(root, 'objects');
  }

  /** Keep run records in `file` between processes (see the header). */
  useRecordCache(file: string): void {
    let data: RecordCacheFile | undefined;
    try {
      data = JSON.parse(readFileSync(file, 'utf8')) as RecordCacheFile;
    } catch {
      data = undefined;
    }
    const ok = data && data.format === RECORD_CACHE_FORMAT && data.store === this.root && data.shards && data.records;
    this.recordCache = { file, shards: ok ? data!.shards : {}, records: ok ? data!.records : {}, now: new Map(), touched: new Set(), used: new Map(), dirty: !ok };
  }

  /** Write the record cache if this process read records it did not hold. */
  saveRecordCache(): void {
    const c = this.recordCache;
    if (!c || !c.dirty) return;
    const shards: Record<string, number> = {};
    const records: Record<string, RunRecord> = {};
    for (const [key, rec] of c.used) {
      const shard = key.slice(0, 2);
      const mtime = c.now.get(shard);
      if (c.touched.has(shard) || mtime === undefined || mtime === null) continue;
      shards[shard] = mtime;
      records[key] = rec;
    }
    // Without a writable cache folder every process reads the records itself.
    if (writeCacheFile(c.file, JSON.stringify({ format: RECORD_CACHE_FORMAT, store: this.root, shards, records } satisfies RecordCacheFile))) c.dirty = false;
  }

  private shardMtime(c: RecordCache, shard: string): number | null {
    let m = c.now.get(shard);
    if (m === undefined) {
      m = statSync(join(this.root, 'runs', shard), { throwIfNoEntry: false })?.mtimeMs ?? null;
      c.now.set(shard, m);
    }
    return m;
  }

  private touch(key: string): void {
    const c = this.recordCache;
    if (!c) return;
    c.touched.add(key.slice(0, 2));
    c.used.delete(key);
    c.dirty = true;
  }

  private ensure(sub: string): string {
    const p = join(this.root, sub);
    mkdirSync(p, { recursive: true });
    return p;
  }

  objectDir(tree: string): string {
    return `${this.objectsRoot}/${tree.slice(0, 2)}/${tree.slice(2)}`;
  }

  recordPath(key: string): string {
    return join(this.root, 'runs', key.slice(0, 2), `${key}.json`);
  }

  /** Not created here: opening the log creates its folder (and reports a failure as the stage's). */
  logPath(key: string): string {
    return join(this.root, 'logs', `${key}.log`);
  }

  workDir(key: string): string {
    return this.ensure(join('work', key));
  }

  dropWorkDir(key: string): void {
    rmSync(join(this.root, 'work', key), { recursive: true, force: true });
  }

  /** A fresh empty staging folder, named for this process (see the header). */
  staging(label: string): string {
    const dir = tempPath(join(this.root, 'tmp', `${label.replace(/[^A-Za-z0-9_-]/g, '_')}-${randomBytes(4).toString('hex')}`));
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new WriteError(dir, e, 'the staging folder');
    }
    return dir;
  }

  readRecord(key: string): RunRecord | undefined {
    const c = this.recordCache;
    const shard = key.slice(0, 2);
    if (c && !c.touched.has(shard)) {
      // Stat the shard before reading from it: a record written after this stat makes the saved mtime stale, never the other way round.
      const mtime = this.shardMtime(c, shard);
      const cached = mtime !== null && c.shards[shard] === mtime ? c.records[key] : undefined;
      if (cached && cached.key === key) {
        c.used.set(key, cached);
        return cached;
      }
    }
    let rec: RunRecord | undefined;
    try {
      rec = JSON.parse(readFileSync(this.recordPath(key), 'utf8')) as RunRecord;
    } catch {
      return undefined;
    }
    if (c && rec && !c.touched.has(shard)) {
      c.used.set(key, rec);
      c.dirty = true;
    }
    return rec;
  }

  hasRecord(key: string): boolean {
    return existsSync(this.recordPath(key));
  }

  /**
   * Move a finished staging folder into the store and record it under `key`.
   * `outputs` maps output name → path inside the staging folder.
   */
  commit(args: { key: string; stage: string; type: string; staging: string; outputs: Record<string, string>; uncached?: Record<string, OutputRecord>; seconds: number; meta?: Record<string, unknown> }): RunRecord {
    let tree = hashPath(args.staging);
    if (tree.kind !== 'dir') throw new Error('staging must be a folder');
    // A stored result is self-contained: a link a stage left in its output becomes a copy of its target.
    if (tree.links) {
      materializeLinks(args.staging);
      tree = hashPath(args.staging);
    }
    const outputs: Record<string, OutputRecord> = {};
    for (const [name, rel] of Object.entries(args.outputs)) {
      const full = join(args.staging, rel);
      if (!existsSync(full)) throw new Error(`declared output '${name}' (${rel}) was not written`);
      const h = hashPath(full);
      outputs[name] = { path: rel, kind: h.kind, hash: h.hash };
    }
    Object.assign(outputs, args.uncached);
    const files = this.placeObject(args.staging, tree.hash, tree.files);
    return this.writeRecord({
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
    });
  }

  /**
   * Install a result made elsewhere (a remote): `staging` must hash to `record.tree` and each of
   * its outputs to the hash the record gives it, else nothing is installed and the error says
   * what differs. The record is kept as made (stage, seconds, meta), with this store's mtimes.
   */
  install(record: RunRecord, staging: string): RunRecord {
    // One in-memory stat cache: the outputs' hashes reuse the tree's file hashes.
    const cache = new StatCache();
    const tree = hashPath(staging, cache);
    if (tree.hash !== record.tree) throw new Error(`its files hash to tree ${tree.hash.slice(0, 12)}…, not ${record.tree.slice(0, 12)}…`);
    for (const [name, o] of Object.entries(record.outputs)) {
      const full = join(staging, o.path);
      const h = existsSync(full) ? hashPath(full, cache) : undefined;
      if (!h || h.hash !== o.hash || h.kind !== o.kind) throw new Error(`its output '${name}' (${o.path}) ${h ? 'does not match its recorded hash' : 'is missing'}`);
    }
    const files = this.placeObject(staging, tree.hash, tree.files);
    return this.writeRecord({ ...record, files });
  }

  /** Move a hashed staging folder to objects/ (or drop it when an intact copy is there). */
  private placeObject(staging: string, tree: string, treeFiles: TreeFile[]): RunRecord['files'] {
    const objDir = this.objectDir(tree);
    if (existsSync(objDir) && this.verifyFiles(objDir, treeFiles.map((f) => [f.path, f.size, -1, f.hash])) === null) {
      makeWritable(staging);
      rmSync(staging, { recursive: true, force: true });
    } else {
      try {
        rmSync(objDir, { recursive: true, force: true });
        makeReadOnly(staging);
        mkdirSync(dirname(objDir), { recursive: true });
        renameSync(staging, objDir);
      } catch (e) {
        throw new WriteError(objDir, e, 'the store object');
      }
    }
    return treeFiles.map((f: TreeFile) => [f.path, f.size, statSync(join(objDir, f.path)).mtimeMs, f.hash]);
  }

  /** The record, written last and atomically (temp + rename). */
  private writeRecord(record: RunRecord): RunRecord {
    const recPath = this.recordPath(record.key);
    this.touch(record.key);
    // Last: until this rename the result does not exist. A failure (disk full) leaves no record.
    writeFileAtomic(recPath, JSON.stringify(record, null, 1), 'the run record');
    return record;
  }

  /** null when the object is intact, else what is wrong. Unchanged size+mtime means unchanged (store files are read-only). */
  verify(record: RunRecord): string | null {
    return this.verifyFiles(this.objectDir(record.tree), record.files);
  }

  private verifyFiles(objDir: string, files: Array<[string, number, number, string]>): string | null {
    for (const [rel, size, mtime, hash] of files) {
      const p = rel ? `${objDir}/${rel}` : objDir;
      let st;
      try {
        st = statSync(p, { throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (!st) return `store entry is missing ${rel || 'its file'}`;
      if (st.size !== size) return `store entry ${rel} was modified (size ${st.size}, expected ${size})`;
      if (st.mtimeMs !== mtime && hashFileContent(p) !== hash) return `store entry ${rel} was modified (content hash differs)`;
    }
    return null;
  }

  removeRecord(key: string): void {
    this.touch(key);
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

  /** Temp files and staging folders (see the header): record temps under runs/, entries of tmp/. */
  *temps(): Generator<string> {
    const runs = join(this.root, 'runs');
    if (existsSync(runs)) {
      for (const shard of readdirSync(runs)) for (const f of readdirSync(join(runs, shard))) if (f.endsWith('.tmp')) yield join(runs, shard, f);
    }
    const tmp = join(this.root, 'tmp');
    if (existsSync(tmp)) for (const f of readdirSync(tmp)) yield join(tmp, f);
  }

  removeTemp(path: string): void {
    makeWritable(path);
    rmSync(path, { recursive: true, force: true });
  }

  private projectFile(root: string): string {
    return join(this.root, 'projects', `${createHash('sha256').update(root).digest('hex').slice(0, 16)}.json`);
  }

  /**
   * Note that the project at `root` keeps a lock file referencing this store (once; a read-only
   * or full store goes unregistered, which only matters to `gc` run from another project).
   */
  registerLockFile(root: string, lockFile: string): void {
    const file = this.projectFile(root);
    let entry: RegisteredProject | undefined;
    try {
      entry = JSON.parse(readFileSync(file, 'utf8')) as RegisteredProject;
    } catch {
      entry = undefined;
    }
    if (entry?.root === root && Array.isArray(entry.locks) && entry.locks.includes(lockFile)) return;
    const locks = entry?.root === root && Array.isArray(entry.locks) ? entry.locks : [];
    writeCacheFile(file, `${JSON.stringify({ root, locks: [...locks, lockFile].sort() } satisfies RegisteredProject, null, 1)}\n`);
  }

  /** The projects registered with this store, each with the path of its registry entry. */
  registeredProjects(): Array<RegisteredProject & { entry: string }> {
    const dir = join(this.root, 'projects');
    if (!existsSync(dir)) return [];
    const out: Array<RegisteredProject & { entry: string }> = [];
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.json')) continue;
      try {
        const e = JSON.parse(readFileSync(join(dir, f), 'utf8')) as RegisteredProject;
        if (typeof e.root === 'string' && Array.isArray(e.locks)) out.push({ root: e.root, locks: e.locks.filter((l) => typeof l === 'string'), entry: join(dir, f) });
      } catch {
        /* a damaged entry: its project registers again on its next run */
      }
    }
    return out;
  }

  /** Rewrite a project's entry with the lock files that still exist, or remove it (`locks` empty). */
  updateProject(root: string, locks: string[]): void {
    const file = this.projectFile(root);
    if (locks.length === 0) rmSync(file, { force: true });
    else writeFileAtomic(file, `${JSON.stringify({ root, locks: [...locks].sort() } satisfies RegisteredProject, null, 1)}\n`, 'the project registry entry');
  }
}

function materializeLinks(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) {
      const tmp = `${p}.${process.pid}.link-copy`;
      copyPath(p, tmp);
      rmSync(p);
      renameSync(tmp, p);
    } else if (st.isDirectory()) materializeLinks(p);
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

/** Copy a file or folder (reflink where the filesystem can), replacing the destination. Links are copied as what they point to. */
export function copyPath(src: string, dest: string): void {
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dirname(dest), { recursive: true });
  const st = statSync(src);
  if (st.isDirectory()) {
    mkdirSync(dest, { recursive: true });
    for (const n of readdirSync(src)) copyPath(join(src, n), join(dest, n));
  } else {
    copyFileSync(src, dest, constants.COPYFILE_FICLONE);
    chmodSync(dest, 0o644);
  }
}
