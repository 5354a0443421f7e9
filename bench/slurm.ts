// The Slurm executor's costs, on the one-node test cluster (scripts/slurm-test-cluster.sh; started
// here if no cluster answers, and stopped again at the end).
//
//   node dist/bench/slurm.js [--stages 50] [--queued 500] [--warmup 30] [--seconds 60]
//
//   overhead  the same pipeline of N independent trivial command stages (`true`), run fresh:
//             locally (-j 2), through Slurm (`--executor slurm`, default settings), and the same N
//             jobs submitted to Slurm directly (`sbatch --wrap true`, polled every 0.2 s) — so
//             fisherflow's share is (through fisherflow − bare Slurm) / N. Broken down into the
//             engine's CPU per job (beyond its start-up and plan: `--dry-run`) and the start-up of
//             `fisherflow exec-stage` on the node (beyond Node.js's own: `node -e ''`).
//   polling   a run of Q stages whose jobs are held in the queue (`sbatch --hold`): squeue calls
//             per minute over `--seconds`, `--warmup` seconds after all are queued (the polling
//             interval has backed off by then; a wrapper on PATH counts the calls),
//             the cost of one squeue call for Q jobs, then Ctrl-C: how long until the run has
//             exited, how many scancel calls it made, and whether the queue is empty.
// Prints a JSON summary last. Figures go into bench/slurm.md with the machine's load.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/stage/registry.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const N = arg('stages', 50);
const Q = arg('queued', 500);
const SECONDS = arg('seconds', 60);
const WARMUP = arg('warmup', 30);
const BIN = join(PACKAGE_ROOT, 'bin', 'fisherflow.js');
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A cluster: the one already answering, else the test cluster, started for this run.
let startedCluster = false;
if (spawnSync('sinfo', ['-h'], { timeout: 10_000 }).status !== 0) {
  const out = execFileSync(join(PACKAGE_ROOT, 'scripts', 'slurm-test-cluster.sh'), ['start'], { encoding: 'utf8' });
  process.env.SLURM_CONF = /SLURM_CONF=(\S+)/.exec(out)![1];
  startedCluster = true;
}
const loadBefore = uptime();
console.log(`load before: ${loadBefore}`);

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ff-bench-slurm-'));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

/** `fisherflow ARGS` under /usr/bin/time: wall seconds and the engine's CPU seconds (user + sys). */
function timedRun(cwd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { wall: number; cpu: number; stdout: string } {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S', process.execPath, BIN, ...args], { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const m = /TIME (\S+) (\S+) (\S+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`fisherflow ${args.join(' ')} failed (${r.status}): ${r.stderr}\n${r.stdout.slice(-2000)}`);
  return { wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), stdout: r.stdout };
}

const pipeline = (n: number, extra = '') => `stages:\n  s:\n    foreach: ${JSON.stringify(Array.from({ length: n }, (_, i) => i))}\n    run: "true"\n${extra}`;

// ---- overhead -------------------------------------------------------------------------------
console.log(`overhead: ${N} trivial stages`);
const planOnly = timedRun(project({ 'fisherflow.yaml': pipeline(N) }), ['run', '--executor', 'slurm', '--dry-run', '--json']);
console.log(`  dry run (start-up and plan): ${planOnly.wall.toFixed(2)} s wall, engine CPU ${planOnly.cpu.toFixed(2)} s`);
const local = timedRun(project({ 'fisherflow.yaml': pipeline(N) }), ['run', '-j', '2', '--json']);
console.log(`  local -j 2:        ${local.wall.toFixed(2)} s wall, engine CPU ${local.cpu.toFixed(2)} s`);
const slurmRun = timedRun(project({ 'fisherflow.yaml': pipeline(N) }), ['run', '--executor', 'slurm', '--json']);
console.log(`  through Slurm:     ${slurmRun.wall.toFixed(2)} s wall, engine CPU ${slurmRun.cpu.toFixed(2)} s`);

async function bareSlurm(n: number): Promise<number> {
  const t0 = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(execFileSync('sbatch', ['--parsable', '--output=/dev/null', '--job-name=bench-bare', '--wrap', 'true'], { encoding: 'utf8' }).trim().split(';')[0]!);
  for (;;) {
    const states = execFileSync('squeue', ['-h', '-t', 'all', '-j', ids.join(','), '-o', '%T'], { encoding: 'utf8' }).trim().split('\n');
    if (states.length === n && states.every((s) => s === 'COMPLETED')) break;
    await sleep(200);
  }
  return (performance.now() - t0) / 1000;
}
const bare = await bareSlurm(N);
console.log(`  bare sbatch --wrap: ${bare.toFixed(2)} s wall`);

// exec-stage's start-up on the node: the same trivial job file, run directly, vs bash alone.
const jobDir = mkdtempSync(join(tmpdir(), 'ff-bench-job-'));
writeFileSync(join(jobDir, 'job.json'), JSON.stringify({ stage: 's', cwd: jobDir, logFile: join(jobDir, 'log'), resultFile: join(jobDir, 'result.json'), gpus: [], work: { kind: 'command', command: 'true' } }));
const timeIt = (cmd: string, args: string[]) => {
  const t0 = performance.now();
  spawnSync(cmd, args, { stdio: 'ignore' });
  return performance.now() - t0;
};
const execStageMs = median(Array.from({ length: 7 }, () => timeIt(process.execPath, [BIN, 'exec-stage', join(jobDir, 'job.json')])));
const bashMs = median(Array.from({ length: 7 }, () => timeIt('bash', ['-c', 'true'])));
const nodeMs = median(Array.from({ length: 7 }, () => timeIt(process.execPath, ['-e', ''])));
console.log(`  exec-stage of \`true\`: ${execStageMs.toFixed(0)} ms (node -e '': ${nodeMs.toFixed(0)} ms, bash -c true: ${bashMs.toFixed(0)} ms)`);

const overhead = {
  stages: N,
  localWallS: local.wall,
  slurmWallS: slurmRun.wall,
  bareSlurmWallS: bare,
  perStageVsLocalMs: ((slurmRun.wall - local.wall) / N) * 1000,
  perStageVsBareSlurmMs: ((slurmRun.wall - bare) / N) * 1000,
  engineCpuPerJobMs: ((slurmRun.cpu - planOnly.cpu) / N) * 1000,
  engineCpuPerStageLocalMs: ((local.cpu - planOnly.cpu) / N) * 1000,
  execStageStartupMs: execStageMs - bashMs,
  nodeStartupMs: nodeMs,
  fisherflowLoadMs: execStageMs - nodeMs,
};
console.log(`  → ${overhead.perStageVsLocalMs.toFixed(0)} ms/stage more than local; ${overhead.perStageVsBareSlurmMs.toFixed(0)} ms/stage more than bare Slurm; engine CPU ${overhead.engineCpuPerJobMs.toFixed(1)} ms/job (local: ${overhead.engineCpuPerStageLocalMs.toFixed(1)} ms/stage); exec-stage start-up ${overhead.execStageStartupMs.toFixed(0)} ms/job, of which Node.js ${nodeMs.toFixed(0)} ms`);

// ---- polling --------------------------------------------------------------------------------
console.log(`polling: ${Q} held jobs for ${SECONDS} s`);
const wrap = mkdtempSync(join(tmpdir(), 'ff-bench-wrap-'));
mkdirSync(join(wrap, 'bin'));
for (const cmd of ['squeue', 'scancel']) {
  const real = execFileSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
  writeFileSync(join(wrap, 'bin', cmd), `#!/bin/bash\necho "$(date +%s.%N)" >> "${wrap}/${cmd}.calls"\nexec ${real} "$@"\n`);
  chmodSync(join(wrap, 'bin', cmd), 0o755);
}
const callTimes = (cmd: string) => (existsSync(join(wrap, `${cmd}.calls`)) ? readFileSync(join(wrap, `${cmd}.calls`), 'utf8').trim().split('\n').filter(Boolean).map(Number) : []);
const ws = project({ 'fisherflow.yaml': pipeline(Q, '    slurm: { options: [--hold] }\n') });
const t0 = performance.now();
const child = spawn(process.execPath, [BIN, 'run', '--executor', 'slurm', '-j', String(Q), '--json'], { cwd: ws, env: { ...process.env, PATH: `${join(wrap, 'bin')}:${process.env.PATH}` }, stdio: 'ignore' });
const ours = () => execFileSync('squeue', ['-h', '-o', '%j'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(`${ws.split('/').pop()}:`)).length;
while (ours() < Q) await sleep(500);
const submitS = (performance.now() - t0) / 1000;
console.log(`  ${Q} jobs queued after ${submitS.toFixed(1)} s`);
await sleep(WARMUP * 1000);
const windowStart = Date.now() / 1000;
await sleep(SECONDS * 1000);
const windowEnd = Date.now() / 1000;
const callsInWindow = callTimes('squeue').filter((t) => t >= windowStart && t < windowEnd).length;
const perMinute = (callsInWindow * 60) / (windowEnd - windowStart);
const oneCallMs = median(Array.from({ length: 5 }, () => {
  const ids = execFileSync('squeue', ['-h', '-o', '%i %j'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`${ws.split('/').pop()}:`)).map((l) => l.split(' ')[0]);
  return timeIt('squeue', ['-h', '-t', 'all', '-j', ids.join(','), '-O', 'JobID:|,State:|,Reason:|,NodeList:|,exit_code:']);
}));
console.log(`  squeue: ${callsInWindow} calls in ${(windowEnd - windowStart).toFixed(0)} s = ${perMinute.toFixed(1)}/min; one call for ${Q} jobs: ${oneCallMs.toFixed(0)} ms`);
const scancelBefore = callTimes('scancel').length;
const tInt = performance.now();
child.kill('SIGINT');
const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
const cancelS = (performance.now() - tInt) / 1000;
let left = ours();
for (let i = 0; i < 50 && left > 0; i++) {
  await sleep(200);
  left = ours();
}
console.log(`  Ctrl-C: exit ${code} after ${cancelS.toFixed(1)} s, ${callTimes('scancel').length - scancelBefore} scancel call(s), ${left} jobs left in the queue`);
const loadAfter = uptime();
console.log(`load after: ${loadAfter}`);
if (startedCluster) execFileSync(join(PACKAGE_ROOT, 'scripts', 'slurm-test-cluster.sh'), ['stop']);

console.log(JSON.stringify({
  loadBefore, loadAfter, overhead,
  polling: { queued: Q, submitS, warmupS: WARMUP, windowS: windowEnd - windowStart, squeueCalls: callsInWindow, squeuePerMinute: perMinute, squeueCallMs: oneCallMs, ctrlC: { exitCode: code, seconds: cancelS, scancelCalls: callTimes('scancel').length - scancelBefore, jobsLeft: left } },
}, null, 1));
