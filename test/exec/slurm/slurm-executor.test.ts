// The Slurm executor's state machine against fake sbatch/squeue/scancel (fake-slurm.ts): every
// Slurm state, jobs purged from squeue, missing and late result files, resubmission after node
// failures, one scancel for many jobs, the -j queue limit, squeue trouble, sbatch refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlurmExecutor } from '../../../src/exec/slurm/slurm-executor.js';
import type { SlurmSettings } from '../../../src/exec/slurm/settings.js';
import type { JobEvent, JobHandle, StageJob } from '../../../src/exec/executor.js';
import { installFakeSlurm, until } from './fake-slurm.js';

const fake = installFakeSlurm();

const settings = (over: Partial<SlurmSettings> = {}): SlurmSettings => ({
  job: { partition: 'short', options: ['--qos=low'] },
  maxJobs: 100,
  pollMinMs: 20,
  pollMaxMs: 80,
  resultWaitMs: 400,
  stopBeforeLimitS: 60,
  resubmit: 2,
  command: 'fisherflow',
  ...over,
});

function setup(over: Partial<SlurmSettings> = {}) {
  const root = mkdtempSync(join(tmpdir(), 'ff-slurm-unit-'));
  const store = join(root, 'artifacts');
  mkdirSync(join(store, 'logs'), { recursive: true });
  const notes: string[] = [];
  const ex = new SlurmExecutor({
    settings: settings(over),
    storeRoot: store,
    pipelineFile: join(root, 'demo.yaml'),
    stageOptions: (stage) => (stage.startsWith('train') ? { partition: 'gpu', options: ['--exclusive'] } : undefined),
    onNote: (m) => notes.push(m),
  });
  const job = (stage: string, resources: StageJob['resources'] = {}): StageJob => ({
    stage, cwd: root, logFile: join(store, 'logs', `${stage}.log`), resources, env: { A: '1' }, work: { kind: 'command', command: 'true' },
  });
  return { root, store, ex, job, notes };
}

function collect(h: JobHandle): JobEvent[] {
  const events: JobEvent[] = [];
  h.on((e) => events.push(e));
  return events;
}

/** Submits and waits for the sbatch call; returns the job id. */
async function submitted(h: JobHandle, events: JobEvent[]): Promise<string> {
  await until(() => events.some((e) => e.type === 'queued'), 10_000, `${h.stage} submitted`);
  const detail = (events.find((e) => e.type === 'queued') as { detail: string }).detail;
  return /Slurm job (\d+)/.exec(detail)![1]!;
}

test('a job from sbatch to its result: flags, job file, queued → running → completed, logs and progress on the way', async () => {
  const { ex, job, root, store } = setup();
  const h = ex.submit(job('train@a', { cpu: 2, gpu: 1, memory: '2GiB', time: '90min' }));
  const events = collect(h);
  const id = await submitted(h, events);
  const args = fake.sbatchArgs(id);
  for (const a of ['--parsable', `--job-name=${root.split('/').pop() === 'demo' ? '' : 'demo'}:train@a`, `--chdir=${root}`, '--cpus-per-task=2', '--gres=gpu:1', '--mem=2048M', '--time=0-01:30:00', '--signal=B:TERM@60', '--partition=gpu', '--qos=low', '--exclusive', '--open-mode=append']) {
    assert.ok(args.includes(a), `sbatch gets ${a}: ${args.join(' ')}`);
  }
  assert.ok(args.some((a) => a.startsWith('--comment=fisherflow stage train@a of ')), 'the stage is in --comment');
  assert.ok(!args.includes('--partition=short'), "the stage's partition wins over the project's");
  assert.match(fake.script(id), /exec fisherflow exec-stage "\$JOB"/);
  const jf = fake.job(id);
  assert.equal(jf.env?.FISHERFLOW_CPUS, '2');
  assert.equal(jf.env?.A, '1');
  assert.equal(jf.gpus, undefined, 'a GPU stage takes its devices from Slurm (CUDA_VISIBLE_DEVICES)');
  assert.ok(jf.resultFile?.startsWith(join(store, 'tmp', 'slurm')), 'job files live in the store');

  fake.state(id, 'PENDING', { reason: 'Resources' });
  await until(() => events.some((e) => e.type === 'queued' && e.detail === `Slurm job ${id} PENDING (Resources)`), 10_000, 'PENDING with its reason');
  fake.state(id, 'RUNNING', { node: 'gpu07' });
  await until(() => events.some((e) => e.type === 'start'), 10_000, 'start');
  assert.deepEqual(events.find((e) => e.type === 'start'), { type: 'start', stage: 'train@a', gpus: [], where: `node gpu07, Slurm job ${id}` });
  appendFileSync(jf.logFile, 'epoch 1\nepoch');
  writeFileSync(jf.progressFile!, JSON.stringify({ done: 3, total: 10, note: 'steps' }));
  await until(() => events.some((e) => e.type === 'progress'), 10_000, 'progress');
  await until(() => events.some((e) => e.type === 'log'), 10_000, 'log line');
  assert.deepEqual(events.filter((e) => e.type === 'log').map((e) => (e as { line: string }).line), ['epoch 1'], 'only whole lines');
  assert.deepEqual(events.find((e) => e.type === 'progress'), { type: 'progress', stage: 'train@a', done: 3, total: 10, note: 'steps' });
  // The result file is the truth: read as soon as it appears, while squeue still says RUNNING.
  fake.result(id, { status: 'succeeded', gpus: ['1'] });
  const r = await h.done;
  assert.equal(r.status, 'succeeded');
  assert.deepEqual(r.gpus, ['1']);
});

test('a CPU stage asks for no GPU and gets none, whatever CUDA_VISIBLE_DEVICES the job inherits; gpu: optional asks for none either', async () => {
  const { ex, job } = setup();
  for (const resources of [{}, { gpu: 'optional' as const }]) {
    const h = ex.submit(job('cpu', resources));
    const id = await submitted(h, collect(h));
    assert.deepEqual(fake.job(id).gpus, []);
    assert.ok(!fake.sbatchArgs(id).some((a) => a.startsWith('--gres')));
    assert.ok(fake.sbatchArgs(id).includes('--partition=short'), "the project's partition");
    fake.state(id, 'COMPLETED', { node: 'n1' });
    fake.result(id, { status: 'succeeded' });
    assert.equal((await h.done).status, 'succeeded');
  }
});

test('a failed stage: the result file gives the message and log tail; Slurm output joins the log', async () => {
  const { ex, job } = setup();
  const h = ex.submit(job('fit'));
  const id = await submitted(h, collect(h));
  const jf = fake.job(id);
  writeFileSync(jf.logFile, 'loading\nTraceback: boom\n');
  writeFileSync(join(jf.resultFile!, '..', 'slurm.out'), 'slurmstepd: a word from Slurm\n');
  fake.result(id, { status: 'failed', error: { kind: 'exit', message: 'stage fit failed: exit code 3', exitCode: 3, signal: null, logTail: [] } });
  fake.state(id, 'FAILED', { reason: 'NonZeroExitCode', node: 'n2', exit: 3 << 8 });
  const r = await h.done;
  assert.equal(r.status, 'failed');
  assert.equal(r.error?.message, `stage fit failed: exit code 3 [Slurm job ${id} on n2]`);
  assert.equal(r.error?.kind, 'exit');
  assert.deepEqual(r.error?.logTail, ['loading', 'Traceback: boom', `--- Slurm output of Slurm job ${id} on n2 ---`, 'slurmstepd: a word from Slurm']);
});

test('ended without a result: every terminal state is explained, after waiting for filesystem lag only when the job ran', async () => {
  const cases: Array<[string, { reason?: string; node?: string; exit?: number }, RegExp, string]> = [
    ['OUT_OF_MEMORY', { node: 'n1', exit: 9 }, /OUT_OF_MEMORY.*went over its memory limit \(the partition default: set resources.memory\)/, 'signal'],
    ['TIMEOUT', { node: 'n1', exit: 15 }, /TIMEOUT.*hit its time limit/, 'signal'],
    ['CANCELLED', { node: '' }, /CANCELLED.*cancelled outside fisherflow/, 'cancelled'],
    ['FAILED', { reason: 'JobLaunchFailure', node: 'n3' }, /could not start the batch script on n3 \(JobLaunchFailure\).*shared by this machine and the compute nodes/, 'input'],
    ['FAILED', { reason: 'NonZeroExitCode', node: 'n3', exit: 86 << 8 }, /node n3 cannot see the job file: fisherflow needs the store \(.*\) and the workspace/, 'input'],
    ['FAILED', { reason: 'NonZeroExitCode', node: 'n3', exit: 127 << 8 }, /exit code 127.*before fisherflow wrote a result \(is fisherflow installed at the same path on the node\?/, 'exit'],
    ['COMPLETED', { node: 'n3' }, /COMPLETED without a result: no result file appeared; fisherflow needs the store/, 'exit'],
    ['DEADLINE', { node: '' }, /DEADLINE.*missed its deadline/, 'input'],
  ];
  const { ex, job } = setup({ resubmit: 0 });
  await Promise.all(cases.map(async ([state, o, message, kind], i) => {
    const h = ex.submit(job(`s${i}`));
    const id = await submitted(h, collect(h));
    fake.state(id, state, o);
    const r = await h.done;
    assert.equal(r.status, 'failed', state);
    assert.match(r.error!.message, message);
    assert.equal(r.error!.kind, kind, `${state}: ${r.error!.message}`);
  }));
});

test('a result that appears late (shared filesystem lag) is waited for; a job purged from squeue is read from its result file', async () => {
  const { ex, job } = setup({ resultWaitMs: 5000 });
  const h = ex.submit(job('late'));
  const id = await submitted(h, collect(h));
  fake.state(id, 'COMPLETED', { node: 'n1' });
  await until(() => fake.squeueCalls() > 0);
  await new Promise((r) => setTimeout(r, 200));
  fake.result(id, { status: 'succeeded' });
  assert.equal((await h.done).status, 'succeeded');

  const h2 = ex.submit(job('purged'));
  const ev2 = collect(h2);
  const id2 = await submitted(h2, ev2);
  fake.state(id2, 'RUNNING', { node: 'n4' });
  await until(() => ev2.some((e) => e.type === 'start'));
  fake.result(id2, { status: 'succeeded' });
  fake.purge(id2);
  assert.equal((await h2.done).status, 'succeeded');
});

test('a job that vanishes from squeue without a result fails after the bounded wait, naming its last state and node', async () => {
  const { ex, job } = setup({ resultWaitMs: 300 });
  const h = ex.submit(job('lost'));
  const ev = collect(h);
  const id = await submitted(h, ev);
  fake.state(id, 'RUNNING', { node: 'n9' });
  await until(() => ev.some((e) => e.type === 'start'));
  fake.purge(id);
  const r = await h.done;
  assert.equal(r.status, 'failed');
  assert.match(r.error!.message, new RegExp(`^stage lost: Slurm job ${id} vanished from squeue \\(last seen RUNNING on n9\\) and left no result file within 0.3s`));
});

test('stopped by SIGTERM: scancel from outside is a cancellation (not retried); near the time limit it is a failure worth a retry', async () => {
  const { ex, job } = setup();
  const stopped = { status: 'cancelled' as const, error: { kind: 'cancelled' as const, message: 'stage x was stopped by SIGTERM', exitCode: null, signal: 'SIGTERM', logTail: [] } };
  const h = ex.submit(job('outside'));
  const id = await submitted(h, collect(h));
  fake.result(id, stopped);
  fake.state(id, 'CANCELLED', { node: 'n1', exit: 15 });
  const r = await h.done;
  assert.equal(r.status, 'failed');
  assert.equal(r.error!.kind, 'cancelled');
  assert.match(r.error!.message, new RegExp(`Slurm job ${id} on n1 was cancelled outside fisherflow .* stopped by SIGTERM`));

  // The result can be seen (once a second) before squeue shows the job ended: the final state still decides.
  const h1 = ex.submit(job('outside-late'));
  const ev1 = collect(h1);
  const id1 = await submitted(h1, ev1);
  fake.state(id1, 'RUNNING', { node: 'n1' });
  await until(() => ev1.some((e) => e.type === 'start'));
  fake.result(id1, stopped);
  await new Promise((r) => setTimeout(r, 1500));
  fake.state(id1, 'CANCELLED', { node: 'n1', exit: 15 });
  const r1 = await h1.done;
  assert.equal(r1.error!.kind, 'cancelled', r1.error!.message);

  // scancel's SIGTERM can reach the stage's command before exec-stage: its record says "killed".
  const h3 = ex.submit(job('outside-killed'));
  const id3 = await submitted(h3, collect(h3));
  fake.result(id3, { status: 'failed', error: { kind: 'signal', message: 'stage x was killed by SIGTERM', exitCode: null, signal: 'SIGTERM', logTail: [] } });
  fake.state(id3, 'CANCELLED', { node: 'n1', exit: 15 });
  const r3 = await h3.done;
  assert.equal(r3.error!.kind, 'cancelled');
  assert.match(r3.error!.message, /was cancelled outside fisherflow .*; the stage was stopped by SIGTERM$/);

  const h2 = ex.submit(job('limit', { time: '2h' }));
  const id2 = await submitted(h2, collect(h2));
  fake.result(id2, stopped);
  fake.state(id2, 'FAILED', { node: 'n1', exit: 143 << 8 });
  const r2 = await h2.done;
  assert.equal(r2.error!.kind, 'signal');
  assert.match(r2.error!.message, /stopped by SIGTERM before its time limit \(resources.time: 2h\)/);
});

test('NODE_FAIL, BOOT_FAIL and PREEMPTED are resubmitted up to slurm.resubmit times; a job Slurm requeues shows as queued again', async () => {
  const { ex, job } = setup({ resubmit: 2 });
  const n = fake.ids().length;
  const h = ex.submit(job('flaky'));
  const ev = collect(h);
  const first = await submitted(h, ev);
  fake.state(first, 'NODE_FAIL', { node: 'n1' });
  await until(() => fake.ids().length === n + 2, 10_000, 'resubmission');
  const second = fake.ids().at(-1)!;
  fake.result(second, { status: 'succeeded' });
  fake.state(second, 'COMPLETED', { node: 'n2' });
  assert.equal((await h.done).status, 'succeeded');
  assert.ok(ev.some((e) => e.type === 'note' && /ended NODE_FAIL; resubmitting \(1 of 2\)/.test(e.message)));

  // A job Slurm requeues itself keeps its id: it shows as queued again, then runs.
  const hq = ex.submit(job('requeued'));
  const evq = collect(hq);
  const idq = await submitted(hq, evq);
  fake.state(idq, 'RUNNING', { node: 'n1' });
  await until(() => evq.some((e) => e.type === 'start'));
  fake.state(idq, 'PENDING', { reason: 'BeginTime' });
  await until(() => evq.some((e) => e.type === 'queued' && e.detail === `Slurm job ${idq} PENDING (BeginTime)`), 10_000, 'queued again');
  fake.state(idq, 'RUNNING', { node: 'n2' });
  fake.result(idq, { status: 'succeeded' });
  assert.equal((await hq.done).status, 'succeeded');

  const before = fake.ids().length;
  const h2 = ex.submit(job('preempted'));
  await submitted(h2, collect(h2));
  for (let k = 0; k < 3; k++) {
    await until(() => fake.ids().length === before + k + 1, 10_000, `submission ${k + 1}`);
    fake.state(fake.ids().at(-1)!, k === 1 ? 'BOOT_FAIL' : 'PREEMPTED', { node: 'n1' });
  }
  const r = await h2.done;
  assert.equal(fake.ids().length, before + 3, 'three submissions, then it gives up');
  assert.equal(r.status, 'failed');
  assert.match(r.error!.message, /ended PREEMPTED$/);
});

test('cancelling many jobs at once is one scancel; each handle settles when squeue shows its job ended', async () => {
  const { ex, job } = setup();
  const ac = new AbortController();
  const hs = ['c1', 'c2', 'c3'].map((s) => ex.submit(job(s), ac.signal));
  const ids = await Promise.all(hs.map((h) => submitted(h, collect(h))));
  fake.state(ids[0]!, 'RUNNING', { node: 'n1' });
  const callsBefore = fake.scancelCalls().length;
  ac.abort();
  const rs = await Promise.all(hs.map((h) => h.done));
  assert.deepEqual(rs.map((r) => r.status), ['cancelled', 'cancelled', 'cancelled']);
  const calls = fake.scancelCalls().slice(callsBefore);
  assert.equal(calls.length, 1, 'one scancel');
  assert.deepEqual([...calls[0]!].sort(), [...ids].sort());
});

test('-j: at most maxJobs jobs in the queue; a cancelled waiter is never submitted', async () => {
  const { ex, job } = setup({ maxJobs: 2 });
  const before = fake.ids().length;
  const hs = ['q1', 'q2', 'q3'].map((s) => ex.submit(job(s)));
  const evs = hs.map(collect);
  await until(() => fake.ids().length === before + 2);
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(fake.ids().length, before + 2, 'the third waits for a free slot');
  const first = fake.ids()[before]!;
  fake.result(first, { status: 'succeeded' });
  fake.state(first, 'COMPLETED', { node: 'n1' });
  await until(() => fake.ids().length === before + 3, 10_000, 'third submitted');
  for (const id of fake.ids().slice(before + 1)) {
    fake.result(id, { status: 'succeeded' });
    fake.state(id, 'COMPLETED', { node: 'n1' });
  }
  assert.deepEqual((await Promise.all(hs.map((h) => h.done))).map((r) => r.status), ['succeeded', 'succeeded', 'succeeded']);
  assert.ok(evs[2]!.some((e) => e.type === 'queued'));

  const { ex: one, job: job1 } = setup({ maxJobs: 1 });
  const n = fake.ids().length;
  const a = one.submit(job1('a'));
  const ac = new AbortController();
  const b = one.submit(job1('b'), ac.signal);
  await until(() => fake.ids().length === n + 1);
  ac.abort();
  assert.equal((await b.done).status, 'cancelled');
  assert.match((await b.done).error!.message, /cancelled before it was submitted/);
  const idA = fake.ids().at(-1)!;
  fake.result(idA, { status: 'succeeded' });
  fake.state(idA, 'COMPLETED');
  await a.done;
  assert.equal(fake.ids().length, n + 1, 'b was never submitted');
});

test('squeue failing (slurmctld busy) is a note and polling goes on; sbatch refusing a job is a clear failure', async () => {
  const { ex, job, notes } = setup();
  fake.failSqueueOnce();
  const h = ex.submit(job('patient'));
  const id = await submitted(h, collect(h));
  await until(() => notes.length > 0, 10_000, 'a note');
  assert.match(notes[0]!, /squeue failed \(exit 1\): squeue: error: Socket timed out.*; still polling/);
  fake.result(id, { status: 'succeeded' });
  fake.state(id, 'COMPLETED');
  assert.equal((await h.done).status, 'succeeded');

  fake.refuse('sbatch: error: Batch job submission failed: Requested node configuration is not available');
  const r = await ex.submit(job('greedy', { gpu: 3 })).done;
  fake.refuse(null);
  assert.equal(r.status, 'failed');
  assert.equal(r.error!.kind, 'input');
  assert.equal(r.error!.message, 'stage greedy: sbatch refused the job: Batch job submission failed: Requested node configuration is not available');
});

test('check: a stage on Slurm where sbatch is missing is refused up front, once', () => {
  const { ex, job } = setup();
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    assert.match(ex.check(job('a'))!, /^stage a runs on Slurm, but sbatch, squeue, scancel are not on PATH/);
    assert.equal(ex.check(job('b')), null, 'said once');
  } finally {
    process.env.PATH = path;
  }
  const ok = setup().ex;
  assert.equal(ok.check(job('a')), null);
  void readFileSync;
});
