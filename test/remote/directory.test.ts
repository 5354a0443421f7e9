// The directory remote (an NFS share, say) end to end: two pushes at once, a push killed midway
// and resumed, a truncated file caught on the way back, a folder the user may not write, a share
// that is not mounted, and gc --remote (every pipeline of the project is a root).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { cli, cliAsync, ran, runJson } from '../helpers/cli.js';
import { directoryConfig, outputs, project, remoteFiles } from './project.js';

let origin: string;
let base: string;
before(() => {
  base = mkdtempSync(join(tmpdir(), 'ff-dir-remote-'));
  origin = project(directoryConfig(join(base, 'first')));
  runJson(origin);
});

/** A project whose remote is `remote`, holding the origin's lock file: `push --store ORIGIN` uploads the origin's results there. */
function pusher(remote: string): string {
  const dir = project(directoryConfig(remote));
  copyFileSync(join(origin, 'fisherflow.lock'), join(dir, 'fisherflow.lock'));
  return dir;
}

const PUSH_ORIGIN = () => ['push', '--store', join(origin, 'artifacts')];

function finished(child: ReturnType<typeof cliAsync>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/** Every record on the remote names a manifest that is there, and every manifest's blobs are there. */
function assertComplete(remote: string): void {
  for (const rec of remoteFiles(remote, /^runs\/.*\.json$/)) {
    const { tree } = JSON.parse(readFileSync(rec, 'utf8')) as { tree: string };
    const manifest = join(remote, 'trees', tree.slice(0, 2), `${tree}.json`);
    assert.ok(existsSync(manifest), `${rec} names a missing manifest`);
    for (const [, size, sha] of (JSON.parse(readFileSync(manifest, 'utf8')) as { files: Array<[string, number, string]> }).files) {
      assert.equal(statSync(join(remote, 'blobs', sha.slice(0, 2), sha)).size, size);
    }
  }
}

test('directory: two pushes of the same results at once both succeed; a fresh clone then runs nothing', async () => {
  const remote = join(base, 'concurrent');
  const dir = pusher(remote);
  const [a, b] = await Promise.all([finished(cliAsync(PUSH_ORIGIN(), { cwd: dir })), finished(cliAsync(PUSH_ORIGIN(), { cwd: dir }))]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assertComplete(remote);
  assert.deepEqual(remoteFiles(remote, /^tmp\//), []);
  const clone = project(directoryConfig(remote));
  assert.deepEqual(ran(runJson(clone)), []);
  assert.deepEqual(outputs(clone), outputs(origin));
});

test('directory: a push killed midway leaves no record without its files; pushing again completes it; a truncated file is caught', async () => {
  const remote = join(base, 'killed');
  const dir = pusher(remote);
  const child = cliAsync([...PUSH_ORIGIN(), '-j', '1'], { cwd: dir });
  const done = finished(child);
  // Kill it as soon as the first blob is in place (or let it finish if it is faster than the poll).
  for (let i = 0; i < 400 && remoteFiles(remote, /^blobs\//).length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGKILL');
  await done;
  assertComplete(remote);
  const again = cli(PUSH_ORIGIN(), { cwd: dir });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /pushed \d results? to 'shared'/);
  assertComplete(remote);
  assert.equal(remoteFiles(remote, /^runs\//).length, 3);
  // Damage the remote: cut the 3 MB file short.
  const big = remoteFiles(remote, /^blobs\//).find((f) => statSync(f).size === 3_000_000)!;
  chmodSync(big, 0o644);
  truncateSync(big, 1_000_000);
  const clone = project(directoryConfig(remote));
  const r = cli(['run'], { cwd: clone });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`data: remote 'shared': blobs/[0-9a-f]{2}/${big.split('/').pop()} is truncated \\(1000000 of 3000000 bytes\\); not installed, running the stage here`));
  assert.match(r.stdout, /note: fetched from remote 'shared'/);
  assert.deepEqual(remoteFiles(join(clone, 'artifacts', 'tmp'), /./), []);
});

test('directory: a folder the user may not write, and a share that is not mounted, give clear errors', () => {
  const remote = join(base, 'readonly');
  const dir = pusher(remote);
  // As root, permissions do not apply: push as nobody instead (who may read the project, not the remote).
  const asNobody = process.getuid?.() === 0;
  if (!asNobody) chmodSync(remote, 0o555);
  for (const p of [dir, origin, base]) chmodSync(p, 0o755);
  const r = cli(PUSH_ORIGIN(), { cwd: dir, ...(asNobody ? { uid: 65534, gid: 65534 } : {}) });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`^fisherflow: remote 'shared': cannot write ${remote}/blobs/[0-9a-f]{2}/[0-9a-f]{64}: permission denied \\(EACCES\\)\\n$`));
  const gone = project(directoryConfig(join(base, 'unmounted')));
  rmSync(join(base, 'unmounted'), { recursive: true });
  const p = cli(['pull'], { cwd: gone });
  assert.equal(p.code, 2); // no lock file yet: nothing to pull
  const s = cli(['status'], { cwd: gone });
  assert.equal(s.code, 0);
  assert.match(s.stderr, /remote 'shared': .*unmounted does not exist \(is the share mounted\? create the folder to start a new remote\); not using it/);
  assert.equal(existsSync(join(base, 'unmounted')), false);
});

test('directory: gc --remote removes what no lock file (or given revision) references, in a dry run first', () => {
  const remote = join(base, 'gc');
  const dir = project(directoryConfig(remote));
  runJson(dir, ['--push']);
  execFileSync('git', ['add', 'fisherflow.lock'], { cwd: dir });
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'n=3'], { cwd: dir });
  runJson(dir, ['--push', '--set', 'n=4']); // the lock file now references n=4 only; HEAD's, n=3
  const dry = cli(['gc', '--remote', '--keep-newer-than', '0'], { cwd: dir });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /would remove 3 run records, 3 manifests, 4 blobs \([\d.]+ MB\) from 'shared' .*; keeping 3 results referenced by 1 lock file\(s\)\n\(dry run; pass --yes to delete\)/);
  assert.match(cli(['gc', '--remote', '--keep-newer-than', '0', '--rev', 'HEAD'], { cwd: dir }).stdout, /would remove 0 run records, 0 manifests, 0 blobs \(0 B\) .*; keeping 6 results referenced by 1 lock file\(s\) and 1 revision\(s\)/);
  assert.match(cli(['gc', '--remote', '--yes'], { cwd: dir }).stdout, /removing 0 run records, 0 manifests, 0 blobs \(0 B\) .*and 10 unreferenced entries newer than 1h/);
  assert.match(cli(['gc', '--remote', '--yes', '--keep-newer-than', '0'], { cwd: dir }).stdout, /removing 3 run records/);
  assertComplete(remote);
  assert.equal(remoteFiles(remote, /^runs\//).length, 3);
});

test('directory: gc --remote at the project root keeps the results of every pipeline of the project (pipelines/*.yaml too)', () => {
  const remote = join(base, 'gc-pipelines');
  const dir = project(directoryConfig(remote));
  mkdirSync(join(dir, 'pipelines'));
  writeFileSync(join(dir, 'pipelines', 'other.yaml'), 'stages:\n  other:\n    run: echo other > other.txt\n    outs: [other.txt]\n');
  runJson(dir, ['pipelines/other.yaml', '--push']);
  const r = cli(['gc', '--remote', '--yes', '--keep-newer-than', '0'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /removing 0 run records, 0 manifests, 0 blobs .*; keeping 1 results referenced by 1 lock file\(s\)/);
  assert.equal(remoteFiles(remote, /^runs\//).length, 1);
});
