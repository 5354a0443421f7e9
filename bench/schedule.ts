// Scheduling overhead of the scheduler/executor pieces, beyond the process spawn itself.
//
//   npx tsx bench/schedule.ts [--stages 1000] [--jobs 2] [--repeat 3]
//   node dist/bench/schedule.js ...            (after `npx tsc -p .`)
//
// Measures, for N trivial command stages with fan-out (one root, N-1 children submitted at once
// when it ends) at -j J:
//   spawn   bare `bash -c true` processes, J at a time (the floor: what a process costs)
//   exec    the same through LocalExecutor (ResourcePool admission, process group, log file,
//           device env, events), ms per stage; overhead = exec - spawn
//   pool    ResourcePool alone: acquire/release of N requests queued at once, µs per stage
//   worker  a trivial built-in stage in a forked worker vs in-process (per-stage fork cost)
//   engine  (with --engine) the whole `fisherflow run -j J --json` on a generated pipeline: one
//           root command stage and a `foreach` of N-1 leaves reading its output; compared with
//           the same N commands spawned bare, and with `--dry-run` (startup + parse + plan)
//   spawn-rss (with --spawn-rss) the synchronous part of spawn() as this process's RSS grows
// Prints a JSON summary last. Figures and machine go into bench/schedule.md.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalExecutor } from '../src/exec/local-executor.js';
import { runBuiltin } from '../src/exec/run-builtin.js';
import { ResourcePool, type ResourceNeed } from '../src/schedule/resources.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const N = arg('stages', 1000);
const ENGINE = process.argv.includes('--engine');
const J = arg('jobs', 2);
const REPEAT = arg('repeat', 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function inParallel(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await task(next++);
  }));
}

function bareSpawn(): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('bash', ['-c', 'true'], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.on('error', reject);
    c.on('close', () => resolve());
  });
}

/** ms per stage for N bare spawns, J at a time (root first, like the fan-out). */
async function benchSpawn(): Promise<number> {
  const t = performance.now();
  await bareSpawn();
  await inParallel(N - 1, J, () => bareSpawn());
  return (performance.now() - t) / N;
}

/** ms per stage through LocalExecutor: root, then N-1 children submitted at once. */
async function benchExec(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'ff-bench-'));
  const ex = new LocalExecutor({ pool: new ResourcePool({ cpuSlots: J }) });
  const job = (i: number) => ({ stage: `s${i}`, cwd: dir, logFile: join(dir, 'logs', `s${i}.log`), work: { kind: 'command' as const, command: 'true' } });
  const t = performance.now();
  const root = await ex.submit(job(0)).done;
  if (root.status !== 'succeeded') throw new Error(`root stage ${root.status}`);
  const handles = [];
  for (let i = 1; i < N; i++) handles.push(ex.submit(job(i)));
  const results = await Promise.all(handles.map((h) => h.done));
  const ms = (performance.now() - t) / N;
  if (results.some((r) => r.status !== 'succeeded')) throw new Error('a stage failed');
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

/** µs per stage of pool admission alone (tasks do nothing but yield). */
async function benchPool(n: number, needs: (i: number) => ResourceNeed): Promise<number> {
  const pool = new ResourcePool({ cpuSlots: J, devices: [{ id: '0', totalMiB: 80_000 }, { id: '1', totalMiB: 80_000 }] });
  const t = performance.now();
  await Promise.all(Array.from({ length: n }, (_, i) => pool.run(needs(i), async () => { await Promise.resolve(); })));
  return ((performance.now() - t) * 1000) / n;
}

/** ms per trivial built-in stage, forked worker vs in-process, run one after another. */
async function benchWorker(count: number): Promise<{ worker: number; inProcess: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'ff-bench-w-'));
  const modulePath = join(dir, 'noop-stage.mjs');
  writeFileSync(modulePath, `export default { type: 'noop', description: '', inputSchema: {}, outputs: () => ({}), async run(ctx) { ctx.progress(1, 1); } };\n`);
  const out: Record<string, number> = {};
  for (const inProcess of [false, true]) {
    const t = performance.now();
    for (let i = 0; i < count; i++) {
      const o = join(dir, `o${i}`);
      mkdirSync(o, { recursive: true });
      await runBuiltin({ stage: 'noop', modulePath, inProcess, logFile: join(dir, 'noop.log'), context: { inputs: {}, outDir: o, workDir: o, gpus: [] } });
    }
    out[inProcess ? 'inProcess' : 'worker'] = (performance.now() - t) / count;
  }
  rmSync(dir, { recursive: true, force: true });
  return { worker: out.worker!, inProcess: out.inProcess! };
}

const spawnMs: number[] = [];
const execMs: number[] = [];
for (let r = 0; r < REPEAT; r++) {
  // Interleaved, so a change in machine load hits both alike.
  spawnMs.push(await benchSpawn());
  execMs.push(await benchExec());
  console.log(`round ${r + 1}: spawn ${spawnMs[r]!.toFixed(2)} ms/stage, exec ${execMs[r]!.toFixed(2)} ms/stage, overhead ${(execMs[r]! - spawnMs[r]!).toFixed(2)} ms/stage`);
}
const cpuOnly = median(await Promise.all([0, 1, 2].map(() => benchPool(N, (i) => ({ stage: `p${i}` })))));
const mixed = await benchPool(10 * N, (i) => (i % 4 === 0 ? { stage: `g${i}`, gpu: 1, gpuMemoryMiB: 20_000 } : i % 4 === 1 ? { stage: `g${i}`, gpu: 2 } : i % 4 === 2 ? { stage: `o${i}`, gpu: 'optional' } : { stage: `c${i}`, cpu: 2 }));
console.log(`pool alone: ${cpuOnly.toFixed(1)} µs/stage (${N} CPU requests), ${mixed.toFixed(1)} µs/stage (${10 * N} mixed GPU/CPU requests queued at once)`);
const worker = await benchWorker(20);
console.log(`built-in stage: ${worker.worker.toFixed(1)} ms in a forked worker, ${worker.inProcess.toFixed(2)} ms in-process`);

/** The whole engine through its CLI: ms per stage for run, and the dry-run's ms in total. */
function benchEngine(): { runMsPerStage: number; bareMsPerStage: number; dryRunMs: number } {
  let root = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(root, 'package.json'))) root = dirname(root);
  const bin = join(root, 'bin', 'fisherflow.js');
  const ws = mkdtempSync(join(tmpdir(), 'ff-bench-ws-'));
  const items = Array.from({ length: N - 1 }, (_, i) => i);
  writeFileSync(join(ws, 'fisherflow.yaml'), [
    'params:',
    `  items: [${items.join(', ')}]`,
    'stages:',
    '  root:',
    '    run: echo root > root.txt',
    '    outs: [root.txt]',
    '  leaf:',
    '    foreach: ${{ params.items }}',
    '    run: cat root.txt > "leaf-${{ item }}.txt"',
    '    deps: [root.txt]',
    '    outs: ["leaf-${{ item }}.txt"]',
    '',
  ].join('\n'));
  const env = { ...process.env, FISHERFLOW_GPUS: '', FISHERFLOW_STORE: join(ws, 'store') };
  const cli = (args: string[]) => {
    const t = performance.now();
    const r = spawnSync(process.execPath, [bin, ...args], { cwd: ws, env, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`fisherflow ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(0, 2000)}`);
    return performance.now() - t;
  };
  const dryRunMs = cli(['run', '--dry-run', '--json']);
  const runMs = cli(['run', '-j', String(J), '--json']);
  rmSync(ws, { recursive: true, force: true });
  return { runMsPerStage: runMs / N, dryRunMs, bareMsPerStage: NaN };
}

let engine: { runMsPerStage: number; bareMsPerStage: number; dryRunMs: number } | undefined;
if (ENGINE) {
  const e = benchEngine();
  const t = performance.now();
  // The same kind of command, bare, J at a time.
  const dir = mkdtempSync(join(tmpdir(), 'ff-bench-bare-'));
  writeFileSync(join(dir, 'root.txt'), 'root\n');
  await inParallel(N, J, (i) => new Promise<void>((resolve) => {
    const c = spawn('bash', ['-c', `cat root.txt > "leaf-${i}.txt"`], { cwd: dir, stdio: 'ignore' });
    c.on('close', () => resolve());
  }));
  rmSync(dir, { recursive: true, force: true });
  e.bareMsPerStage = (performance.now() - t) / N;
  engine = e;
  console.log(`engine: fisherflow run -j ${J}: ${e.runMsPerStage.toFixed(2)} ms/stage vs ${e.bareMsPerStage.toFixed(2)} ms/stage bare → ${(e.runMsPerStage - e.bareMsPerStage).toFixed(2)} ms/stage overhead; dry run ${e.dryRunMs.toFixed(0)} ms`);
}

/** ms the event loop is blocked per spawn() call, at the current RSS. */
async function syncSpawnMs(n = 100): Promise<number> {
  let sync = 0;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const c = spawn('bash', ['-c', 'true'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    sync += performance.now() - t;
    await new Promise((r) => c.on('close', r));
  }
  return sync / n;
}

const spawnRss: Array<{ rssMB: number; syncSpawnMs: number }> = [];
if (process.argv.includes('--spawn-rss')) {
  const ballast: string[][] = [];
  for (const add of [0, 20_000, 80_000]) {
    for (let i = 0; i < add; i++) ballast.push(new Array(1000).fill(i).map(String));
    const ms = await syncSpawnMs();
    spawnRss.push({ rssMB: Math.round(process.memoryUsage().rss / 1e6), syncSpawnMs: ms });
    console.log(`spawn() blocks ${ms.toFixed(2)} ms at ${spawnRss[spawnRss.length - 1]!.rssMB} MB RSS`);
  }
  ballast.length = 0;
}

const summary = {
  machine: `${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}`,
  stages: N,
  jobs: J,
  spawnMsPerStage: median(spawnMs),
  execMsPerStage: median(execMs),
  overheadMsPerStage: median(execMs.map((e, i) => e - spawnMs[i]!)),
  poolUsPerStage: cpuOnly,
  poolMixedUsPerStage: mixed,
  workerForkMs: worker.worker,
  inProcessMs: worker.inProcess,
  spawnRss,
  engine: engine && { ...engine, overheadMsPerStage: engine.runMsPerStage - engine.bareMsPerStage },
};
console.log(JSON.stringify(summary, null, 2));
