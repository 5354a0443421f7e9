// A full disk (ENOSPC) anywhere fisherflow writes — the workspace lock, a stage's log, a run
// record, the lock file, the run journal, a job's result — gives an error that names the file,
// never a stack trace; nothing half-written is trusted afterwards, and the workspace lock is released.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, runJson, workspace } from '../helpers/cli.js';
import { processesIn, removeAfterTests } from '../helpers/processes.js';
import { fill, smallDisk, smallDiskUnavailable } from '../helpers/small-disk.js';

const skip = smallDiskUnavailable ?? false;
const tempStore = () => removeAfterTests(mkdtempSync(join(tmpdir(), 'ff-store-')));

function recordsIn(store: string): string[] {
  const runs = join(store, 'runs');
  return existsSync(runs) ? readdirSync(runs).flatMap((s) => readdirSync(join(runs, s))) : [];
}

function assertClean(r: { code: number | null; stdout: string; stderr: string }, message: RegExp, project: string): void {
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, message);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, 'no stack trace');
  assert.equal(existsSync(join(project, '.fisherflow', 'run.lock')), false, 'the workspace lock is released');
  assert.equal(existsSync(join(project, '.fisherflow', 'run.lock.groups')), false);
}

test('ENOSPC while writing a stage\'s log: the stage is stopped and fails naming the log, no result is recorded', { skip }, () => {
  const disk = smallDisk(256);
  const dir = workspace({
    'fisherflow.yaml': `stages:
  chatty:
    run: for i in $(seq 20000); do echo "line $i of a long and chatty log, long enough to fill a small disk"; done; echo done > out.txt
    outs: [out.txt]
`,
  });
  removeAfterTests(dir);
  const store = join(disk, 'store');
  const r = cli(['run', '--store', store], { cwd: dir });
  assertClean(r, /FAILED chatty after .*: stage chatty failed: cannot write the stage's log .*\/store\/logs\/[0-9a-f]{64}\.log: no space left on device \(ENOSPC\)/, dir);
  assert.deepEqual(recordsIn(store), []);
  assert.deepEqual(processesIn(dir), []);
});

test('ENOSPC while a built-in stage writes its output: the stage fails naming its output folder', { skip }, () => {
  const disk = smallDisk(128);
  const store = join(disk, 'store');
  mkdirSync(store);
  fill(disk);
  const dir = workspace({ 'fisherflow.yaml': 'stages:\n  w:\n    uses: write\n    with: { text: "a text that does not fit" }\n' });
  removeAfterTests(dir);
  const r = cli(['run', '--store', store], { cwd: dir });
  assertClean(r, /FAILED w after .*: stage w failed: no space left on device \(ENOSPC\) while writing into its output folder .*\/store\/tmp\/w-[0-9a-f]{8}\.\d+@[A-Za-z0-9-]+\.tmp /, dir);
  assert.deepEqual(recordsIn(store), []);
});

test('ENOSPC while writing a run record: the stage fails naming the record; nothing is recorded; the next run reruns it', { skip }, () => {
  const disk = smallDisk(256);
  const store = join(disk, 'store');
  // The stage's own output is empty (fits), then it fills the store's disk.
  const dir = workspace({ 'fisherflow.yaml': `stages:\n  a:\n    run: ': > out.txt; dd if=/dev/zero of=${disk}/filler bs=4k 2>/dev/null; true'\n    outs: [out.txt]\n` });
  removeAfterTests(dir);
  const r = cli(['run', '--store', store], { cwd: dir });
  assertClean(r, /FAILED a after .*: cannot write the run record .*\/store\/runs\/[0-9a-f]{2}\/[0-9a-f]{64}\.json: no space left on device \(ENOSPC\)/, dir);
  assert.deepEqual(recordsIn(store), [], 'neither a record nor its temp file');
  rmSync(join(disk, 'filler'));
  writeFileSync(join(dir, 'fisherflow.yaml'), readFileSync(join(dir, 'fisherflow.yaml'), 'utf8').replace(/; dd .*; true/, ''));
  assert.deepEqual(runJson(dir, ['--store', store]), { a: 'ran' });
});

test('ENOSPC while writing the lock file: a located error, the old lock file intact, no temp file; the next run completes it from the cache', { skip }, () => {
  const disk = smallDisk(256);
  const dir = join(disk, 'project');
  mkdirSync(join(dir, '.git'), { recursive: true });
  const env = { FISHERFLOW_STORE: tempStore() };
  writeFileSync(join(dir, 'fisherflow.yaml'), 'stages:\n  a:\n    run: echo a > a.txt\n    outs: [a.txt]\n');
  assert.deepEqual(runJson(dir, [], env), { a: 'ran' });
  const before = readFileSync(join(dir, 'fisherflow.lock'), 'utf8');
  // A second stage that fills the project's disk once its (empty) output is written.
  writeFileSync(join(dir, 'fisherflow.yaml'), `stages:\n  a:\n    run: echo a > a.txt\n    outs: [a.txt]\n  b:\n    run: ': > b.txt; dd if=/dev/zero of=filler bs=4k 2>/dev/null; true'\n    outs: [b.txt]\n`);
  const r = cli(['run'], { cwd: dir, env });
  assertClean(r, /^fisherflow: cannot write the lock file .*\/project\/fisherflow\.lock: no space left on device \(ENOSPC\)$/m, dir);
  assert.equal(readFileSync(join(dir, 'fisherflow.lock'), 'utf8'), before);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.lock')), ['fisherflow.lock']);
  rmSync(join(dir, 'filler'));
  assert.deepEqual(runJson(dir, [], env), { a: 'cached', b: 'cached' }, 'the results were stored; only the lock file was missing');
  assert.match(readFileSync(join(dir, 'fisherflow.lock'), 'utf8'), /"b": \{/);
});

test('ENOSPC while writing the run journal: the command stage does not start, the error names the journal', { skip }, () => {
  const disk = smallDisk(128);
  fill(disk);
  const store = tempStore();
  const dir = workspace({ 'fisherflow.yaml': 'stages:\n  a:\n    run: echo ran > a.txt\n    outs: [a.txt]\n' });
  removeAfterTests(dir);
  // Only the journal's folder is on the full disk (the lock and the lock file fit).
  mkdirSync(join(dir, '.fisherflow'));
  symlinkSync(disk, join(dir, '.fisherflow', 'pending'));
  const r = cli(['run', '--store', store], { cwd: dir });
  assertClean(r, /FAILED a after .*: cannot write the run journal .*\/\.fisherflow\/pending\/[^ ]+\.jsonl: no space left on device \(ENOSPC\)/, dir);
  assert.equal(existsSync(join(dir, 'a.txt')), false, 'the command never ran');
  assert.deepEqual(recordsIn(store), []);
});

test('ENOSPC while taking the workspace lock: a located error and no empty lock file left behind', { skip }, () => {
  const disk = smallDisk(128);
  const dir = join(disk, 'project');
  mkdirSync(join(dir, '.fisherflow'), { recursive: true });
  writeFileSync(join(dir, 'fisherflow.yaml'), 'stages:\n  a:\n    run: echo a > a.txt\n    outs: [a.txt]\n');
  fill(disk);
  const r = cli(['run'], { cwd: dir, env: { FISHERFLOW_STORE: tempStore() } });
  assertClean(r, /^fisherflow: cannot write the workspace lock .*\/project\/\.fisherflow\/run\.lock: no space left on device \(ENOSPC\)$/m, dir);
});

test('ENOSPC while exec-stage writes its job result: a located error', { skip }, () => {
  const disk = smallDisk(128);
  const dir = tempStore();
  const job = join(dir, 'job.json');
  writeFileSync(job, JSON.stringify({ stage: 'x', cwd: dir, logFile: join(dir, 'x.log'), resultFile: join(disk, 'result.json'), work: { kind: 'command', command: 'true' } }));
  fill(disk);
  const r = cli(['exec-stage', job], { cwd: dir });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^fisherflow: cannot write the job result .*\/result\.json: no space left on device \(ENOSPC\)$/m);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assert.deepEqual(readdirSync(disk), ['filler']);
});
