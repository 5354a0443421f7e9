// ResourcePool: CPU slots, per-device GPU queue, memory packing, multi-GPU fairness, optional GPUs.
// Jobs here are simulated (timers); test/exec/local-executor.test.ts does the same with processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ResourceError, ResourcePool, type Lease, type ResourceNeed } from '../../src/schedule/resources.js';

interface Span { stage: string; gpus: string[]; start: number; end: number }

/** Runs jobs of `ms` each through the pool and records when each held which devices. */
async function simulate(pool: ResourcePool, jobs: Array<ResourceNeed & { ms: number }>): Promise<Span[]> {
  const t0 = performance.now();
  const spans: Span[] = [];
  await Promise.all(jobs.map((j) => pool.run(j, async (lease) => {
    const start = performance.now() - t0;
    await sleep(j.ms);
    spans.push({ stage: j.stage, gpus: lease.gpus, start, end: performance.now() - t0 });
  })));
  return spans;
}

function overlaps(a: Span, b: Span): boolean {
  return a.start < b.end && b.start < a.end;
}

test('four 1-GPU jobs on devices 0,1: never two on one device, two waves', async () => {
  const pool = new ResourcePool({ cpuSlots: 8, devices: [{ id: '0' }, { id: '1' }] });
  const spans = await simulate(pool, [1, 2, 3, 4].map((i) => ({ stage: `g${i}`, gpu: 1, ms: 60 })));
  for (const a of spans) for (const b of spans) {
    if (a !== b && a.gpus[0] === b.gpus[0]) assert.ok(!overlaps(a, b), `${a.stage} and ${b.stage} overlap on device ${a.gpus[0]}`);
  }
  const byStart = [...spans].sort((x, y) => x.start - y.start);
  assert.ok(byStart[1]!.start < byStart[0]!.end, 'the first two run together');
  // Timers may fire up to 1 ms early.
  assert.ok(byStart[2]!.start >= Math.min(byStart[0]!.end, byStart[1]!.end) - 1, 'the second wave waits for the first');
  assert.deepEqual(new Set(spans.map((s) => s.gpus[0])), new Set(['0', '1']));
});

test('a 2-GPU job gets two distinct devices and is not starved by a stream of 1-GPU jobs', async () => {
  const pool = new ResourcePool({ cpuSlots: 16, devices: [{ id: '0' }, { id: '1' }] });
  const t0 = performance.now();
  const done: string[] = [];
  let bigLease: Lease | undefined;
  const runs: Promise<void>[] = [];
  const one = (name: string, ms: number) => runs.push(pool.run({ stage: name, gpu: 1 }, async () => { await sleep(ms); done.push(name); }));
  one('a', 40);
  one('b', 80);
  runs.push(pool.run({ stage: 'big', gpu: 2 }, async (lease) => { bigLease = lease; assert.ok(pool.snapshot().devices.every((d) => d.jobs === 1)); await sleep(20); done.push('big'); }));
  // A stream of 1-GPU jobs arriving after the 2-GPU one, including while device 0 is idle.
  for (let i = 0; i < 6; i++) {
    await sleep(15);
    one(`s${i}`, 40);
  }
  await Promise.all(runs);
  assert.ok(bigLease);
  assert.deepEqual([...bigLease.gpus].sort(), ['0', '1']);
  // 'big' runs once a and b are done, before any of the later stream.
  assert.deepEqual(done.slice(0, 3), ['a', 'b', 'big']);
  assert.ok(performance.now() - t0 < 1000);
});

test('memory packing: small declared stages share a device while memory fits', async () => {
  const pool = new ResourcePool({ cpuSlots: 16, devices: [{ id: '0', totalMiB: 10_000 }] });
  let peak = 0;
  let peakMem = 0;
  await Promise.all([1, 2, 3, 4, 5].map((i) => pool.run({ stage: `m${i}`, gpu: 1, gpuMemoryMiB: 3000 }, async () => {
    const s = pool.snapshot().devices[0]!;
    peak = Math.max(peak, s.jobs);
    peakMem = Math.max(peakMem, s.usedMiB);
    await sleep(30);
  })));
  assert.equal(peak, 3, 'three 3000 MiB stages fit in 10000 MiB, a fourth does not');
  assert.equal(peakMem, 9000);
  // Memory already in use on the card at detection is not handed out.
  const busy = new ResourcePool({ cpuSlots: 4, devices: [{ id: '0', totalMiB: 10_000, usedMiB: 5000 }] });
  assert.match(busy.check({ stage: 'x', gpu: 1, gpuMemoryMiB: 6000 }) ?? '', /stage x declares gpu_memory 5\.9 GiB/);
});

test('a large-memory stage is not starved by a stream of small ones on its device', async () => {
  const pool = new ResourcePool({ cpuSlots: 16, devices: [{ id: '0', totalMiB: 10_000 }] });
  const order: string[] = [];
  const jobs: Promise<void>[] = [];
  const job = (stage: string, mem: number, ms: number) => jobs.push(pool.run({ stage, gpu: 1, gpuMemoryMiB: mem }, async () => { order.push(stage); await sleep(ms); }));
  job('small0', 3000, 30);
  job('small1', 3000, 60);
  job('big', 8000, 10);
  for (let i = 2; i < 8; i++) {
    await sleep(10);
    job(`small${i}`, 3000, 30);
  }
  await Promise.all(jobs);
  assert.equal(order[2], 'big', `order: ${order.join(' ')}`);
});

test('a stage without declared memory takes the device alone; jobsPerGpu allows sharing', async () => {
  const pool = new ResourcePool({ cpuSlots: 8, devices: [{ id: '0', totalMiB: 10_000 }] });
  const order: string[] = [];
  await Promise.all([
    pool.run({ stage: 'small', gpu: 1, gpuMemoryMiB: 1000 }, async () => { order.push('small+'); await sleep(30); order.push('small-'); }),
    pool.run({ stage: 'whole', gpu: 1 }, async () => { order.push('whole+'); await sleep(10); order.push('whole-'); }),
  ]);
  assert.deepEqual(order, ['small+', 'small-', 'whole+', 'whole-']);
  const shared = new ResourcePool({ cpuSlots: 8, devices: [{ id: '0' }], jobsPerGpu: 2 });
  let peak = 0;
  await Promise.all([1, 2, 3].map((i) => shared.run({ stage: `s${i}`, gpu: 1 }, async () => { peak = Math.max(peak, shared.snapshot().devices[0]!.jobs); await sleep(20); })));
  assert.equal(peak, 2);
});

test('check: impossible requests are rejected up front, naming the stage', async () => {
  const none = new ResourcePool({ cpuSlots: 2 });
  assert.match(none.check({ stage: 'fim@tic', gpu: 1 }) ?? '', /^stage fim@tic requires 1 GPU but no GPU devices are available/);
  await assert.rejects(none.acquire({ stage: 'fim@tic', gpu: 1 }), (e: unknown) => e instanceof ResourceError && e.stage === 'fim@tic');
  const two = new ResourcePool({ cpuSlots: 2, devices: [{ id: '0', totalMiB: 8192 }, { id: '1' }] });
  assert.match(two.check({ stage: 'train', gpu: 3 }) ?? '', /stage train requires 3 GPUs but only 2 devices are available \(0, 1\)/);
  // Device 1 has unknown memory, so a 16 GiB stage may use it (one at a time); two such GPUs do not exist.
  assert.equal(two.check({ stage: 'big', gpu: 1, gpuMemoryMiB: 16384 }), null);
  assert.match(two.check({ stage: 'big2', gpu: 2, gpuMemoryMiB: 16384 }) ?? '', /stage big2 declares gpu_memory 16\.0 GiB/);
  assert.equal(none.check({ stage: 'opt', gpu: 'optional' }), null);
  assert.match(none.check({ stage: 'c', cpu: 0 }) ?? '', /stage c: resources.cpu/);
});

test('optional GPU: a free device if any, otherwise CPU', async () => {
  const pool = new ResourcePool({ cpuSlots: 4, devices: [{ id: '0' }] });
  const a = await pool.acquire({ stage: 'a', gpu: 'optional' });
  const b = await pool.acquire({ stage: 'b', gpu: 'optional' });
  assert.deepEqual(a.gpus, ['0']);
  assert.deepEqual(b.gpus, []);
  a.release();
  b.release();
  const cpuOnly = new ResourcePool({ cpuSlots: 1 });
  const c = await cpuOnly.acquire({ stage: 'c', gpu: 'optional' });
  assert.deepEqual(c.gpus, []);
  c.release();
});

test('CPU slots limit concurrency; cpu: N takes N slots and is not starved', async () => {
  const pool = new ResourcePool({ cpuSlots: 2 });
  let running = 0;
  let peak = 0;
  const spans = await simulate(pool, [1, 2, 3, 4, 5].map((i) => ({ stage: `c${i}`, ms: 30 })));
  assert.equal(spans.length, 5);
  await Promise.all([1, 2, 3, 4].map((i) => pool.run({ stage: `p${i}` }, async () => { running++; peak = Math.max(peak, running); await sleep(20); running--; })));
  assert.equal(peak, 2);

  const order: string[] = [];
  const jobs: Promise<void>[] = [];
  const job = (stage: string, cpu: number, ms: number) => jobs.push(pool.run({ stage, cpu }, async () => { order.push(stage); await sleep(ms); }));
  job('x1', 1, 40);
  job('wide', 2, 10);
  for (let i = 0; i < 5; i++) job(`y${i}`, 1, 20);
  await Promise.all(jobs);
  assert.deepEqual(order.slice(0, 2), ['x1', 'wide'], 'the 2-slot stage starts next, not after the 1-slot stream');
  // cpu beyond the pool size is clamped rather than waiting forever.
  const lease = await pool.acquire({ stage: 'huge', cpu: 64 });
  assert.equal(lease.cpu, 2);
  lease.release();
});

test('a stage waiting for a GPU does not hold CPU slots', async () => {
  const pool = new ResourcePool({ cpuSlots: 2, devices: [{ id: '0' }] });
  const g1 = await pool.acquire({ stage: 'g1', gpu: 1 });
  const g2 = pool.acquire({ stage: 'g2', gpu: 1 });
  const c = await pool.acquire({ stage: 'cpu-stage' });
  assert.deepEqual(c.gpus, []);
  c.release();
  g1.release();
  (await g2).release();
  assert.deepEqual(pool.snapshot(), { cpuSlots: 2, cpuFree: 2, running: 0, waiting: 0, devices: [{ id: '0', capacityMiB: undefined, jobs: 0, usedMiB: 0 }] });
});

test('aborting a waiting acquire removes it and frees its reservation', async () => {
  const pool = new ResourcePool({ cpuSlots: 4, devices: [{ id: '0' }, { id: '1' }] });
  const a = await pool.acquire({ stage: 'a', gpu: 1 });
  const ac = new AbortController();
  const big = pool.acquire({ stage: 'big', gpu: 2 }, ac.signal);
  // 'big' holds device 1 back while it waits...
  let smallGot: Lease | undefined;
  const small = pool.acquire({ stage: 'small', gpu: 1 }).then((l) => { smallGot = l; return l; });
  await sleep(5);
  assert.equal(smallGot, undefined);
  ac.abort(new Error('cancelled'));
  await assert.rejects(big, /cancelled/);
  // ...and once it is gone the waiting 1-GPU stage takes it.
  const l = await small;
  assert.deepEqual(l.gpus, ['1']);
  a.release();
  l.release();
  a.release(); // idempotent
  assert.equal(pool.snapshot().cpuFree, 4);
});

test('many jobs: the pool ends clean and never exceeds its limits', async () => {
  const pool = new ResourcePool({ cpuSlots: 3, devices: [{ id: '0', totalMiB: 8000 }, { id: '1', totalMiB: 8000 }, { id: '2' }] });
  let bad = '';
  const needs: ResourceNeed[] = [];
  for (let i = 0; i < 200; i++) {
    const k = i % 5;
    needs.push(k === 0 ? { stage: `j${i}`, gpu: 2 } : k === 1 ? { stage: `j${i}`, gpu: 1, gpuMemoryMiB: 3000 } : k === 2 ? { stage: `j${i}`, gpu: 'optional' } : k === 3 ? { stage: `j${i}`, cpu: 2 } : { stage: `j${i}` });
  }
  await Promise.all(needs.map((n) => pool.run(n, async () => {
    const s = pool.snapshot();
    if (s.cpuFree < 0) bad = 'cpu overcommitted';
    for (const d of s.devices) if (d.capacityMiB !== undefined && d.usedMiB > d.capacityMiB) bad = `device ${d.id} memory overcommitted`;
    await sleep(Math.random() * 3);
  })));
  assert.equal(bad, '');
  const s = pool.snapshot();
  assert.equal(s.cpuFree, 3);
  assert.equal(s.running + s.waiting, 0);
  assert.ok(s.devices.every((d) => d.jobs === 0 && d.usedMiB === 0));
});
