// What fisherflow hands to sbatch (flags, the batch script), time limits, squeue's output, and the
// polling back-off: pure pieces of the Slurm executor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchScript, jobName, NO_STORE_EXIT, sbatchArgs, type BatchJobSpec } from '../../../src/exec/slurm/batch-job.js';
import { parseSqueue } from '../../../src/exec/slurm/squeue.js';
import { phaseOf } from '../../../src/exec/slurm/job-states.js';
import { QueueWatcher } from '../../../src/exec/slurm/queue-watcher.js';
import { formatSlurmTime, parseTimeLimit } from '../../../src/schedule/time-limit.js';
import { until } from './fake-slurm.js';

const spec = (over: Partial<BatchJobSpec> = {}): BatchJobSpec => ({
  name: 'demo:fim@tic', comment: 'fisherflow stage fim@tic of /p/demo.yaml', cwd: '/p', outputFile: '/store/tmp/slurm/x/slurm.out', jobFile: "/store/tmp/slurm/x/job's.json",
  resources: {}, options: [], stopBeforeLimitS: 60, command: "'/usr/bin/node' '/opt/ff/bin/fisherflow.js'", storeRoot: '/store', ...over,
});

test('resources map to sbatch flags; project settings first, the stage wins, extra flags last', () => {
  assert.deepEqual(sbatchArgs(spec()), [
    '--parsable', '--job-name=demo:fim@tic', '--comment=fisherflow stage fim@tic of /p/demo.yaml', '--chdir=/p', '--output=/store/tmp/slurm/x/slurm.out', '--open-mode=append',
    '--nodes=1', '--ntasks=1', '--cpus-per-task=1', '--signal=B:TERM@60',
  ]);
  const args = sbatchArgs(spec({
    resources: { cpu: 4, gpu: 2, memory: '16GB', time: '1-12:00:00' },
    options: [{ partition: 'cpu', account: 'lab', options: ['--mail-type=FAIL'] }, { partition: 'gpu', constraint: 'a100', options: ['--exclusive'] }],
  }));
  assert.deepEqual(args.slice(8), ['--cpus-per-task=4', '--gres=gpu:2', '--mem=15259M', '--time=1-12:00:00', '--signal=B:TERM@60', '--partition=gpu', '--account=lab', '--constraint=a100', '--mail-type=FAIL', '--exclusive']);
  assert.ok(sbatchArgs(spec({ resources: { memory: '16GiB', gpu: 'optional' } })).includes('--mem=16384M'));
  assert.ok(!sbatchArgs(spec({ resources: { gpu: 'optional' } })).some((a) => a.startsWith('--gres')), 'gpu: optional asks for no GPU');
  assert.ok(sbatchArgs(spec({ outputFile: '/s/100%/o' })).includes('--output=/s/100%%/o'), "Slurm's % patterns are escaped");
});

test('job names say pipeline and stage', () => {
  assert.equal(jobName('/home/me/fuse/pipelines/demo.yaml', 'fim@tic'), 'demo:fim@tic');
  assert.equal(jobName('/home/me/fuse/fisherflow.yaml', 'train'), 'fuse:train');
});

test('time limits: durations and Slurm notation, written as D-HH:MM:SS', () => {
  const cases: Array<[string, number]> = [['90s', 90], ['30min', 1800], ['2h', 7200], ['1.5d', 129600], ['90', 5400], ['10:30', 630], ['02:00:00', 7200], ['1-12', 129600], ['1-12:30', 131400], ['2-00:00:01', 172801]];
  for (const [text, seconds] of cases) assert.equal(parseTimeLimit(text, 'time'), seconds, text);
  assert.equal(formatSlurmTime(90), '0-00:01:30');
  assert.equal(formatSlurmTime(129600.2), '1-12:00:01');
  assert.throws(() => parseTimeLimit('2 hours', 'resources.time'), /^UserError: resources.time: expected a time limit such as "2h", "90min", "1d" or Slurm's "HH:MM:SS", "D-HH:MM:SS", got "2 hours"/);
  assert.throws(() => parseTimeLimit('0', 'resources.time'), /must be greater than zero/);
});

test('the batch script refuses clearly when the node cannot see the job file, else execs exec-stage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-batch-'));
  const jobFile = join(dir, "it's.json");
  const script = batchScript(spec({ jobFile, storeRoot: dir, command: 'echo ran' }));
  let r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  assert.equal(r.status, NO_STORE_EXIT);
  assert.match(r.stderr, new RegExp(`^fisherflow: node \\S+ cannot read ${jobFile.replace(/[.]/g, '\\.')}: the store \\(${dir}\\) must be on a filesystem shared by the machine that runs fisherflow and the compute nodes\\n$`));
  writeFileSync(jobFile, '{}');
  r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.equal(r.stdout, `ran exec-stage ${jobFile}\n`);
});

test("squeue's output: states, reasons, nodes and raw exit statuses", () => {
  const m = parseSqueue('3|PENDING|Resources||0\n1|RUNNING|None|vm|0\n7|FAILED|NonZeroExitCode|gpu01|768\n9|CANCELLED|None|vm|15\n\nnoise\n');
  assert.deepEqual(m.get('3'), { id: '3', state: 'PENDING', reason: 'Resources', node: '', exit: { code: 0, signal: 0 } });
  assert.deepEqual(m.get('7')!.exit, { code: 3, signal: 0 });
  assert.deepEqual(m.get('9')!.exit, { code: 0, signal: 15 });
  assert.equal(m.size, 4);
  const phases = Object.fromEntries(['PENDING', 'REQUEUED', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE', 'SOMETHING_NEW'].map((s) => [s, phaseOf(s)]));
  assert.deepEqual(phases, {
    PENDING: 'waiting', REQUEUED: 'waiting', CONFIGURING: 'waiting', RUNNING: 'running', COMPLETING: 'running', SUSPENDED: 'running', COMPLETED: 'ended', FAILED: 'ended',
    CANCELLED: 'ended', TIMEOUT: 'ended', NODE_FAIL: 'ended', PREEMPTED: 'ended', OUT_OF_MEMORY: 'ended', BOOT_FAIL: 'ended', DEADLINE: 'ended', SOMETHING_NEW: 'running',
  });
});

test('polling backs off while nothing changes, with one call for all jobs, and hurries back on a change', async () => {
  let state = 'PENDING';
  const asked: string[][] = [];
  const delays: number[] = [];
  const w: QueueWatcher = new QueueWatcher({
    minMs: 4, maxMs: 30,
    query: async (ids) => {
      delays.push(w.intervalMs); // the delay this call was scheduled with
      asked.push(ids);
      return new Map(ids.map((id) => [id, { id, state, reason: 'None', node: '', exit: null }]));
    },
  });
  const seen: string[] = [];
  const un1 = w.watch('1', (e) => seen.push(`1:${e?.state}`));
  const un2 = w.watch('2', () => {});
  await until(() => w.calls >= 8, 10_000, 'eight calls');
  assert.ok(asked.every((ids) => ids.join() === '1,2'), 'both jobs in every call');
  // The first call sees new states; then ×1.5 per unchanged call up to the maximum.
  assert.deepEqual(delays.slice(0, 8), [4, 4, 6, 9, 14, 21, 30, 30]);
  const n = w.calls;
  state = 'RUNNING';
  await until(() => w.calls >= n + 3, 10_000, 'calls after the change');
  assert.ok(seen.includes('1:RUNNING'));
  assert.deepEqual(delays.slice(n + 1, n + 3), [4, 6], 'back to the shortest delay after a change');
  un1();
  un2();
  const stopped = w.calls;
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(w.calls, stopped, 'no calls without jobs');
});
