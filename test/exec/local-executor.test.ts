// LocalExecutor with real processes: GPU queue (--gpus 0,1 style devices), CPU slots, failures,
// cancellation, and exec-stage from a job file in a separate process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseGpuSpec } from '../../src/schedule/devices.js';
import { ResourcePool } from '../../src/schedule/resources.js';
import { LocalExecutor } from '../../src/exec/local-executor.js';
import type { JobEvent, JobResultRecord, StageJob } from '../../src/exec/executor.js';
import { fixtureModule } from './paths.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'ff-exec-'));

/** A command stage that records its device and start/end times (ms since epoch) into DIR/NAME.rec. */
function recordingJob(dir: string, stage: string, resources: StageJob['resources'], seconds = 0.4): StageJob {
  const rec = join(dir, `${stage}.rec`);
  return {
    stage, cwd: dir, logFile: join(dir, 'logs', `${stage}.log`), resources,
    work: { kind: 'command', command: `s=$(date +%s%3N); sleep ${seconds}; echo "$CUDA_VISIBLE_DEVICES $s $(date +%s%3N)" > ${rec}` },
  };
}

function readRec(dir: string, stage: string): { dev: string; start: number; end: number } {
  const [dev, start, end] = readFileSync(join(dir, `${stage}.rec`), 'utf8').trim().split(' ');
  // `echo "$CUDA_VISIBLE_DEVICES ..."` with an empty value leaves only the numbers.
  return end === undefined ? { dev: '', start: Number(dev), end: Number(start) } : { dev: dev!, start: Number(start), end: Number(end) };
}

test('--gpus 0,1: four 1-GPU command stages never share a device and finish in two waves', async () => {
  const dir = tmp();
  const ex = new LocalExecutor({ pool: new ResourcePool({ cpuSlots: 8, devices: parseGpuSpec('0,1') }) });
  const names = ['g1', 'g2', 'g3', 'g4'];
  const results = await Promise.all(names.map((n) => ex.submit(recordingJob(dir, n, { gpu: 1 }, 0.8)).done));
  assert.deepEqual(results.map((r) => r.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);
  const recs = names.map((n) => ({ n, ...readRec(dir, n) }));
  for (const a of recs) {
    assert.ok(a.dev === '0' || a.dev === '1', `CUDA_VISIBLE_DEVICES=${a.dev}`);
    for (const b of recs) {
      if (a !== b && a.dev === b.dev) assert.ok(a.end <= b.start || b.end <= a.start, `${a.n} and ${b.n} overlap on device ${a.dev}`);
    }
  }
  const byStart = [...recs].sort((x, y) => x.start - y.start);
  // Wave 2 starts only after wave 1 ended.
  assert.ok(byStart[2]!.start >= Math.min(byStart[0]!.end, byStart[1]!.end), 'two waves');
  assert.ok(byStart[1]!.start < byStart[0]!.end, 'the first two ran together');
});

test('a 2-GPU command stage gets both devices; a required GPU without devices fails up front', async () => {
  const dir = tmp();
  const ex = new LocalExecutor({ pool: new ResourcePool({ cpuSlots: 4, devices: parseGpuSpec('0,1') }) });
  const r = await ex.submit(recordingJob(dir, 'pair', { gpu: 2 }, 0)).done;
  assert.equal(r.status, 'succeeded');
  assert.deepEqual(r.gpus, ['0', '1']);
  assert.equal(readRec(dir, 'pair').dev, '0,1');

  const cpuOnly = new LocalExecutor({ pool: new ResourcePool({ cpuSlots: 4 }) });
  const job = recordingJob(dir, 'fim@tic', { gpu: 1 });
  assert.match(cpuOnly.check(job) ?? '', /^stage fim@tic requires 1 GPU/);
  const failed = await cpuOnly.submit(job).done;
  assert.equal(failed.status, 'failed');
  assert.match(failed.error?.message ?? '', /stage fim@tic requires 1 GPU/);
  assert.throws(() => readRec(dir, 'fim@tic'), /ENOENT/, 'nothing ran');
  assert.match(cpuOnly.check(recordingJob(dir, 'x', { gpu: 1, gpu_memory: '20 bananas' })) ?? '', /stage x: resources.gpu_memory: unknown unit/);
  // gpu: optional on a machine without GPUs runs on CPU with CUDA_VISIBLE_DEVICES="".
  const opt = await cpuOnly.submit(recordingJob(dir, 'opt', { gpu: 'optional' }, 0)).done;
  assert.equal(opt.status, 'succeeded');
  assert.equal(readRec(dir, 'opt').dev, '');
});

test('memory packing across processes: gpu_memory stages share a device while they fit', async () => {
  const dir = tmp();
  const ex = new LocalExecutor({ pool: new ResourcePool({ cpuSlots: 8, devices: parseGpuSpec('0:24GB') }) });
  const names = ['m1', 'm2', 'm3'];
  await Promise.all(names.map((n) => ex.submit(recordingJob(dir, n, { gpu: 1, gpu_memory: '10GB' }, 0.8)).done));
  const recs = names.map((n) => readRec(dir, n)).sort((a, b) => a.start - b.start);
  assert.ok(recs[1]!.start < recs[0]!.end, 'two 10GB stages share the 24GB device');
  assert.ok(recs[2]!.start >= recs[0]!.end, 'a third does not fit until one ends');
});

test('-j 2: independent CPU stages overlap, never more than two at once', async () => {
  const dir = tmp();
  const ex = new LocalExecutor({ pool: new ResourcePool({ cpuSlots: 2 }) });
  const names = ['c1', 'c2', 'c3'];
  await Promise.all(names.map((n) => ex.submit(recordingJob(dir, n, {}, 0.8)).done));
  const recs = names.map((n) => readRec(dir, n)).sort((a, b) => a.start - b.start);
  assert.ok(recs[1]!.start < recs[0]!.end, 'the first two overlap');
  assert.ok(recs[2]!.start >= Math.min(recs[0]!.end, recs[1]!.end), 'the third waits for a slot');
});

test('events, a failing command with its log tail, and cancellation through the handle', async () => {
  const dir = tmp();
  const ex = new LocalExecutor({ pool: new ResourcePool({ cpuSlots: 2, devices: parseGpuSpec('0') }), graceMs: 200 });
  const events: JobEvent[] = [];
  const h = ex.submit({ stage: 'bad', cwd: dir, logFile: join(dir, 'bad.log'), resources: { gpu: 1 }, work: { kind: 'command', command: 'for i in 1 2 3; do echo step $i; done; echo "CUDA error: out of memory" >&2; exit 2' } });
  assert.equal(h.status, 'queued');
  h.on((e) => events.push(e));
  const r = await h.done;
  assert.equal(h.status, 'failed');
  assert.equal(r.error?.message, 'stage bad failed: exit code 2');
  assert.deepEqual(r.error?.logTail, ['step 1', 'step 2', 'step 3', 'CUDA error: out of memory']);
  assert.deepEqual(events[0], { type: 'start', stage: 'bad', gpus: ['0'] });
  assert.equal(events.filter((e) => e.type === 'log').length, 4);

  // Cancel one running and one still waiting for the device.
  const running = ex.submit({ stage: 'long', cwd: dir, logFile: join(dir, 'long.log'), resources: { gpu: 1 }, work: { kind: 'command', command: 'sleep 30' } });
  const waiting = ex.submit({ stage: 'next', cwd: dir, logFile: join(dir, 'next.log'), resources: { gpu: 1 }, work: { kind: 'command', command: 'true' } });
  await sleep(100);
  assert.equal(running.status, 'running');
  assert.equal(waiting.status, 'queued');
  waiting.cancel();
  running.cancel();
  const [a, b] = await Promise.all([running.done, waiting.done]);
  assert.equal(a.status, 'cancelled');
  assert.equal(b.status, 'cancelled');
  assert.ok(a.seconds < 5);
});

test('a worker stage through the executor gets its device; an external abort signal cancels', async () => {
  const dir = tmp();
  const outDir = join(dir, 'out');
  mkdirSync(outDir);
  const ex = new LocalExecutor({ pool: new ResourcePool({ cpuSlots: 2, devices: parseGpuSpec('0,1') }) });
  const job: StageJob = { stage: 'w', cwd: dir, logFile: join(dir, 'w.log'), resources: { gpu: 1 }, work: { kind: 'builtin', modulePath: fixtureModule('modes-stage'), inputs: { mode: 'ok' }, outDir, workDir: join(dir, 'work') } };
  const progress: JobEvent[] = [];
  const h = ex.submit(job);
  h.on((e) => { if (e.type === 'progress') progress.push(e); });
  const r = await h.done;
  assert.equal(r.status, 'succeeded');
  assert.equal(JSON.parse(readFileSync(join(outDir, 'env.json'), 'utf8')).CUDA_VISIBLE_DEVICES, r.gpus[0]);
  assert.deepEqual(progress[progress.length - 1], { type: 'progress', stage: 'w', done: 5, total: 5, note: 'examples' });

  const ac = new AbortController();
  const h2 = ex.submit({ ...job, stage: 'w2', work: { ...job.work, inputs: { mode: 'abortable' } } as StageJob['work'] }, ac.signal);
  await sleep(200);
  ac.abort();
  assert.equal((await h2.done).status, 'cancelled');
});

function runExecStage(jobFile: string, env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...process.execArgv.filter((a) => !a.startsWith('--test')), fixtureModule('exec-stage-main'), jobFile], { env: { ...process.env, ...env } }, (err) => {
      resolve(err ? Number((err as { code?: number }).code ?? 1) : 0);
    });
  });
}

test('exec-stage: a stage runs in a separate process from its job file alone', async () => {
  const dir = tmp();
  const outDir = join(dir, 'out');
  mkdirSync(outDir);
  const job: StageJob = {
    stage: 'fim@tic', cwd: dir, logFile: join(dir, 'fim.log'), resultFile: join(dir, 'result.json'),
    work: { kind: 'builtin', modulePath: fixtureModule('modes-stage'), inputs: { mode: 'ok' }, outDir, workDir: join(dir, 'work') },
  };
  const jobFile = join(dir, 'job.json');
  writeFileSync(jobFile, JSON.stringify(job));
  // The devices come from the environment, as a cluster scheduler sets them.
  assert.equal(await runExecStage(jobFile, { CUDA_VISIBLE_DEVICES: '2' }), 0);
  const env = JSON.parse(readFileSync(join(outDir, 'env.json'), 'utf8'));
  assert.equal(env.CUDA_VISIBLE_DEVICES, '2');
  assert.deepEqual(env.gpus, ['2']);
  const rec = JSON.parse(readFileSync(job.resultFile!, 'utf8')) as JobResultRecord;
  assert.equal(rec.status, 'succeeded');
  assert.match(readFileSync(job.logFile, 'utf8'), /starting in mode ok/);

  writeFileSync(jobFile, JSON.stringify({ ...job, work: { ...job.work, inputs: { mode: 'input' } } }));
  assert.equal(await runExecStage(jobFile), 1);
  const failed = JSON.parse(readFileSync(job.resultFile!, 'utf8')) as JobResultRecord;
  assert.deepEqual([failed.status, failed.error?.kind, failed.error?.message], ['failed', 'input', 'with.take: must be positive, got -3']);

  const cmd: StageJob = { stage: 'sh', cwd: dir, logFile: join(dir, 'sh.log'), gpus: ['1'], work: { kind: 'command', command: 'echo "dev=$CUDA_VISIBLE_DEVICES"' } };
  writeFileSync(jobFile, JSON.stringify(cmd));
  assert.equal(await runExecStage(jobFile), 0);
  assert.equal(readFileSync(cmd.logFile, 'utf8'), 'dev=1\n');
});

test('exec-stage: a malformed job file is named in the error', async () => {
  const { readJobFile } = await import('../../src/exec/exec-stage.js');
  const dir = tmp();
  const f = join(dir, 'job.json');
  writeFileSync(f, JSON.stringify({ stage: 'x', cwd: dir, logFile: 'l', work: { kind: 'docker' } }));
  assert.throws(() => readJobFile(f), new RegExp(`^JobFileError: ${f.replace(/[.]/g, '\\.')}: "work.kind" must be "command" or "builtin"`));
  writeFileSync(f, '{');
  assert.throws(() => readJobFile(f), /cannot read job file/);
});

test('FISHERFLOW_CPUS tells a stage process how many CPU slots it holds (clamped to the machine)', async () => {
  const dir = tmp();
  const ex = new LocalExecutor({ pool: new ResourcePool({ cpuSlots: 3, devices: [] }) });
  const job = (stage: string, cpu?: number): StageJob => ({
    stage, cwd: dir, logFile: join(dir, 'logs', `${stage}.log`), resources: cpu === undefined ? {} : { cpu },
    work: { kind: 'command', command: `echo "$FISHERFLOW_CPUS" > ${join(dir, `${stage}.cpus`)}` },
  });
  const results = await Promise.all([ex.submit(job('one')).done, ex.submit(job('two', 2)).done, ex.submit(job('many', 16)).done]);
  assert.deepEqual(results.map((r) => r.status), ['succeeded', 'succeeded', 'succeeded']);
  assert.deepEqual(['one', 'two', 'many'].map((s) => readFileSync(join(dir, `${s}.cpus`), 'utf8').trim()), ['1', '2', '3']);
});
