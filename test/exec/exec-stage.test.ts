// `fisherflow exec-stage JOB.json` as a batch system runs it: the exit status tells failure from
// success, SIGTERM (scancel, or Slurm's warning before a time limit) stops the stage and the result
// file says so, SIGKILL leaves no process of the stage, a malformed job file is a clear error, and
// the result is written whole or not at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobResultRecord, StageJob } from '../../src/exec/executor.js';
import { cli, cliAsync } from '../helpers/cli.js';
import { processesIn, removeAfterTests, waitFor } from '../helpers/processes.js';
import { alive, fixtureModule } from './paths.js';

function jobFile(job: Omit<StageJob, 'logFile' | 'cwd' | 'resultFile'>): { dir: string; file: string; job: StageJob } {
  const dir = mkdtempSync(join(tmpdir(), 'ff-exec-stage-'));
  const full: StageJob = { ...job, cwd: dir, logFile: join(dir, 'logs', 'stage.log'), resultFile: join(dir, 'result.json') } as StageJob;
  const file = join(dir, 'job.json');
  writeFileSync(file, JSON.stringify(full));
  return { dir, file, job: full };
}

const record = (job: StageJob) => JSON.parse(readFileSync(job.resultFile!, 'utf8')) as JobResultRecord;

test('a failing stage exits 1 (a batch system sees FAILED), with the failure in the result file and nothing half-written', () => {
  const { dir, file, job } = jobFile({ stage: 'bad', work: { kind: 'command', command: 'echo before; exit 3' } });
  const r = cli(['exec-stage', file], { cwd: dir });
  assert.equal(r.code, 1, r.stderr);
  const rec = record(job);
  assert.equal(rec.status, 'failed');
  assert.equal(rec.error?.exitCode, 3);
  assert.deepEqual(rec.error?.logTail, ['before']);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'no temp file left beside the result');

  const ok = jobFile({ stage: 'good', work: { kind: 'command', command: 'true' } });
  assert.equal(cli(['exec-stage', ok.file], { cwd: ok.dir }).code, 0);
  assert.equal(record(ok.job).status, 'succeeded');
});

test('SIGTERM stops the stage and its processes; the result says which signal, the exit status is 143', async () => {
  const { dir, file, job } = jobFile({ stage: 'long', work: { kind: 'command', command: `sleep 60 & echo $! > ${'$PWD'}/sleep.pid; echo started; wait` } });
  const child = cliAsync(['exec-stage', file], { cwd: dir });
  const pidFile = join(dir, 'sleep.pid');
  for (let i = 0; i < 400 && !(existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim()); i++) await new Promise((r) => setTimeout(r, 25));
  const sleepPid = Number(readFileSync(pidFile, 'utf8'));
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 143);
  const rec = record(job);
  assert.equal(rec.status, 'cancelled');
  assert.equal(rec.error?.message, 'stage long was stopped by SIGTERM');
  assert.equal(rec.error?.signal, 'SIGTERM');
  assert.ok(!alive(sleepPid), "the stage's own processes are gone");
});

test('SIGKILL of exec-stage (a batch system killing the job step): no process of its stage survives', async () => {
  const { dir, file } = jobFile({ stage: 'long', work: { kind: 'command', command: `sleep 60 & echo $! > ${'$PWD'}/sleep.pid; wait` } });
  removeAfterTests(dir);
  const child = cliAsync(['exec-stage', file], { cwd: dir });
  const exited = new Promise((r) => child.on('exit', r));
  const pidFile = join(dir, 'sleep.pid');
  await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim());
  const sleepPid = Number(readFileSync(pidFile, 'utf8'));
  child.kill('SIGKILL');
  await exited;
  // The stage's guard kills its group once the engine's end of its socket is gone (each process
  // of the group exits when the machine gets round to it: wait for all of them, not only one).
  await waitFor(() => !alive(sleepPid) && processesIn(dir).length === 0);
  assert.equal(alive(sleepPid), false, "the stage's processes die with exec-stage");
  assert.deepEqual(processesIn(dir), []);
});

test('a malformed job file is a usage error naming the file and the field (exit 2, no stack trace)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-exec-stage-'));
  const f = join(dir, 'job.json');
  const cases: Array<[string | null, RegExp]> = [
    [null, /missing\.json: cannot read job file: ENOENT/],
    ['{"stage": ', /cannot read job file: .*JSON/],
    ['[1, 2]', /expected a JSON object/],
    [JSON.stringify({ stage: 'x', cwd: dir, logFile: 'l', work: { kind: 'command', command: 'true' }, env: { A: 1 } }), /: "env" must be a map of strings$/],
    [JSON.stringify({ stage: 'x', cwd: dir, logFile: 'x.log', work: { kind: 'docker' } }), /"work.kind" must be "command" or "builtin"/],
    [JSON.stringify({ stage: 'x', cwd: dir, logFile: 'x.log', work: { kind: 'builtin', modulePath: 'm.js', outDir: 'o', workDir: 'w' } }), /"work.inputs" must be an object/],
  ];
  for (const [text, expected] of cases) {
    const file = text === null ? join(dir, 'missing.json') : f;
    if (text !== null) writeFileSync(f, text);
    const r = cli(['exec-stage', file], { cwd: dir });
    assert.equal(r.code, 2, `${text}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(`fisherflow: ${file}: `), r.stderr);
    assert.match(r.stderr.trimEnd(), expected);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  }
});

test("a built-in stage's progress is kept in the job's progress file", () => {
  const { dir, file, job } = jobFile({ stage: 'p', work: { kind: 'builtin', modulePath: fixtureModule('modes-stage'), inputs: { mode: 'ok' }, outDir: '', workDir: '' } });
  const out = join(dir, 'out');
  mkdirSync(out);
  const withProgress = { ...job, progressFile: join(dir, 'progress.json'), work: { ...job.work, outDir: out, workDir: join(dir, 'work') } };
  writeFileSync(file, JSON.stringify(withProgress));
  assert.equal(cli(['exec-stage', file], { cwd: dir }).code, 0);
  assert.deepEqual(JSON.parse(readFileSync(withProgress.progressFile, 'utf8')), { done: 5, total: 5, note: 'examples' });
});
