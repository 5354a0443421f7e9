// Read-only access to git: the repository root, revisions, and file contents at a revision.
// Everything goes through the `git` binary (no library): fisherflow never changes git state.
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { dirname, relative, sep } from 'node:path';
import { UserError } from '../errors.js';
import { didYouMean } from '../pipeline/errors.js';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function git(cwd: string, args: string[], input?: string): GitResult {
  const r = spawnSync('git', args, { cwd, input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError('git is not installed (or not on PATH); experiments and diffs read revisions through git');
    throw r.error;
  }
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

export interface Repo {
  /** Absolute, symlinks resolved. */
  root: string;
}

/** The repository holding `file`, or a clean error naming what needs git. */
export function openRepo(file: string, what: string): Repo {
  const dir = dirname(file);
  const r = git(dir, ['rev-parse', '--show-toplevel']);
  if (r.code !== 0) {
    throw new UserError(`${file} is not inside a git repository; ${what} works on git revisions`, undefined, "run 'git init' and commit the pipeline and its lock file first");
  }
  return { root: realpathSync(r.stdout.trim()) };
}

/** Path of `file` relative to the repository root, with '/' separators (as git spells it). */
export function repoPath(repo: Repo, file: string): string {
  const abs = realpathOrSelf(file);
  return relative(repo.root, abs).split(sep).join('/');
}

function realpathOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    // The file may not exist (yet); resolve its folder instead.
    try {
      return `${realpathSync(dirname(p))}${sep}${p.split(sep).pop()}`;
    } catch {
      return p;
    }
  }
}

export interface Commit {
  sha: string;
  short: string;
  /** ISO date of the commit. */
  date: string;
  subject: string;
}

/** The commit a revision names; a clean error when there is none. */
export function resolveRevision(repo: Repo, rev: string): Commit {
  if (rev.startsWith('-')) throw new UserError(`'${rev}' is not a revision`);
  const r = git(repo.root, ['log', '-1', '--format=%H%x1f%h%x1f%cI%x1f%s', `${rev}^{commit}`, '--']);
  if (r.code !== 0 || !r.stdout.trim()) {
    const hasCommits = git(repo.root, ['rev-parse', '--verify', '--quiet', 'HEAD']).code === 0;
    if (!hasCommits) throw new UserError(`revision '${rev}' does not exist: the repository at ${repo.root} has no commits yet`, undefined, 'commit the pipeline and its lock file first');
    const refs = git(repo.root, ['for-each-ref', '--format=%(refname:short)']).stdout.split('\n').filter(Boolean);
    throw new UserError(`revision '${rev}' does not exist in ${repo.root}${didYouMean(rev, refs)}`);
  }
  return parseCommitLine(r.stdout.trim());
}

function parseCommitLine(line: string): Commit {
  const [sha, short, date, ...subject] = line.split('\x1f');
  return { sha, short, date, subject: subject.join('\x1f') };
}

/** HEAD's commit, or undefined in a repository without commits. */
export function headCommit(repo: Repo): Commit | undefined {
  const r = git(repo.root, ['log', '-1', '--format=%H%x1f%h%x1f%cI%x1f%s', 'HEAD', '--']);
  return r.code === 0 && r.stdout.trim() ? parseCommitLine(r.stdout.trim()) : undefined;
}

/** The current branch name, or undefined when HEAD is detached. */
export function currentBranch(repo: Repo): string | undefined {
  const r = git(repo.root, ['symbolic-ref', '--quiet', '--short', 'HEAD']);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** The first-parent history of HEAD, newest first. */
export function history(repo: Repo, limit: number): Commit[] {
  const r = git(repo.root, ['log', '--first-parent', `-n${limit}`, '--format=%H%x1f%h%x1f%cI%x1f%s', 'HEAD', '--']);
  if (r.code !== 0) return [];
  return r.stdout.split('\n').filter(Boolean).map(parseCommitLine);
}

/** The commit that first added `path`, if any (for error hints). */
export function firstCommitWith(repo: Repo, path: string): Commit | undefined {
  const r = git(repo.root, ['log', '--diff-filter=A', '--format=%H%x1f%h%x1f%cI%x1f%s', '--all', '--', path]);
  const lines = r.code === 0 ? r.stdout.split('\n').filter(Boolean) : [];
  return lines.length ? parseCommitLine(lines[lines.length - 1]) : undefined;
}

/**
 * Contents of several `rev:path` blobs in one git process; undefined for those that do not exist.
 * `git cat-file --batch` answers "<sha> blob <size>\n<bytes>\n" or "<spec> missing\n" per line.
 */
export function readBlobs(repo: Repo, specs: string[]): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  if (specs.length === 0) return out;
  const r = spawnSync('git', ['cat-file', '--batch'], { cwd: repo.root, input: `${specs.join('\n')}\n`, maxBuffer: 1024 * 1024 * 1024 });
  if (r.error || r.status !== 0) {
    for (const s of specs) out.set(s, undefined);
    return out;
  }
  const buf = r.stdout as Buffer;
  let pos = 0;
  for (const spec of specs) {
    const nl = buf.indexOf(10, pos);
    if (nl < 0) {
      out.set(spec, undefined);
      continue;
    }
    const header = buf.subarray(pos, nl).toString('utf8');
    pos = nl + 1;
    const m = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header);
    if (!m) {
      out.set(spec, undefined); // "<spec> missing" or "ambiguous"
      continue;
    }
    const size = Number(m[2]);
    out.set(spec, m[1] === 'blob' ? buf.subarray(pos, pos + size).toString('utf8') : undefined);
    pos += size + 1;
  }
  return out;
}

/** One blob's bytes (`rev:path`), binary-safe; undefined when there is none. */
export function readBlobBytes(repo: Repo, spec: string): Buffer | undefined {
  const r = spawnSync('git', ['cat-file', 'blob', spec], { cwd: repo.root, maxBuffer: 1024 * 1024 * 1024 });
  return r.status === 0 ? (r.stdout as Buffer) : undefined;
}

export function readBlob(repo: Repo, rev: string, path: string): string | undefined {
  return readBlobs(repo, [`${rev}:${path}`]).get(`${rev}:${path}`);
}
