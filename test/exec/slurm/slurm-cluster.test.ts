// `fisherflow run` on a real one-node Slurm cluster (scripts/slurm-test-cluster.sh; CI starts it
// and sets FISHERFLOW_REQUIRE_SLURM=1 so these tests cannot be skipped there). Each test uses its
// own workspace, so its job names (`<folder>:<stage>`) are its own.
//
// The cluster has 2 CPUs and 2 fake GPUs; Slurm schedules about one job per second per CPU, so
// the pipelines here are small.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { cli, cliAsync, workspace } from '../../helpers/cli.js';

function slurmAvailable(): string | null {
  const r = spawnSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return `sbatch/sinfo not found (${(r.error as NodeJS.ErrnoException).code}); start one with scripts/slurm-test-cluster.sh start`;
  if (r.status !== 0 || !/idle|mixed|alloc/.test(r.stdout)) return `no Slurm cluster answers (sinfo: ${(r.stderr || r.stdout).trim().split('\n').pop()}); start one with scripts/slurm-test-cluster.sh start and set SLURM_CONF`;
  return null;
}

const unavailable = slurmAvailable();
const required = process.env.FISHERFLOW_REQUIRE_SLURM === '1';
const skip = unavailable && !required ? `no Slurm here: ${unavailable}` : false;
if (skip) process.stderr.write(`slurm-cluster tests skipped: ${unavailable}\n`);

test('a Slurm cluster is reachable (required in CI)', { skip }, () => {
  assert.equal(unavailable, null);
});

// Wrappers around the real commands: they log each call, and squeue can hide jobs (a purge).
// Always an absolute path (never the bare name, which would find the wrapper itself and loop
// forever when the cluster is down but the tests are required to run).
const realBin = (cmd: string) => {
  try {
    return execFileSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || `/nonexistent/${cmd}`;
  } catch {
    return `/nonexistent/${cmd}`;
  }
};
const wrapDir = mkdtempSync(join(tmpdir(), 'ff-slurm-wrap-'));
const bin = join(wrapDir, 'bin');
mkdirSync(bin);
for (const cmd of ['sbatch', 'scancel']) {
  writeFileSync(join(bin, cmd), `#!/bin/bash\necho "$*" >> "${wrapDir}/${cmd}.calls"\nexec ${realBin(cmd)} "$@"\n`);
}
// Jobs listed in the hide file are left out of squeue's answer, as after slurmctld purged them.
writeFileSync(join(bin, 'squeue'), `#!/bin/bash\n${realBin('squeue')} "$@" | grep -v -w -F -f <(cat "${wrapDir}/hide" 2>/dev/null; echo __none__)\nexit \${PIPESTATUS[0]}\n`);
for (const cmd of ['sbatch', 'scancel', 'squeue']) chmodSync(join(bin, cmd), 0o755);
const env = { PATH: `${bin}:${process.env.PATH}`, FISHERFLOW_NO_FAST_PATH: '1' };
const calls = (cmd: string) => (existsSync(join(wrapDir, `${cmd}.calls`)) ? readFileSync(join(wrapDir, `${cmd}.calls`), 'utf8').trim().split('\n').filter(Boolean) : []);

const CONFIG = 'executor: slurm\nslurm:\n  poll_min: 0.2s\n  poll_max: 1s\n  result_wait: 6s\n';

/** The run's jobs in the queue (not ended): "ID STATE" lines, by job name prefix. */
function queued(ws: string): string[] {
  const out = execFileSync(realBin('squeue'), ['-h', '-o', '%i %T %j'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.split(' ')[2]?.startsWith(`${basename(ws)}:`)).map((l) => l.split(' ').slice(0, 2).join(' '));
}

function jobOf(ws: string, stage: string, state?: string): string | undefined {
  const out = execFileSync(realBin('squeue'), ['-h', '-t', 'all', '-o', '%i %T %j'], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.split(' ')).find((f) => f[2] === `${basename(ws)}:${stage}` && (!state || f[1] === state))?.[0];
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a failing stage: exit 1, the Slurm job and exit code named with the log tail, downstream skipped; logs and states shown', { skip }, () => {
  const ws = workspace({
    'fisherflow.config.yaml': CONFIG,
    'fisherflow.yaml': `stages:
  a:
    run: echo "a on $(hostname)" > a.txt
    outs: [a.txt]
  b:
    run: cat a.txt; echo "something broke" >&2; exit 3
    deps: [a.txt]
  c:
    run: touch c.txt
    needs: [b]
    outs: [c.txt]
`,
  });
  const r = cli(['run'], { cwd: ws, env });
  assert.equal(r.code, 1, r.stderr + r.stdout);
  assert.match(r.stdout, /queued a: Slurm job \d+/);
  assert.match(r.stdout, /start a on node \S+, Slurm job \d+/);
  assert.match(r.stdout, /FAILED b after .*: stage b failed: exit code 3 \[Slurm job \d+ on \S+\]/);
  assert.match(r.stdout, /\| a on \S+\n {2}\| something broke/);
  assert.match(r.stdout, /skipped c: upstream stage 'b' failed/);
  const logs = cli(['logs', 'b'], { cwd: ws, env });
  assert.equal(logs.stdout, `${readFileSync(join(ws, 'a.txt'), 'utf8')}something broke\n`);
});

test('--keep-going: stages that do not depend on the failure still run on Slurm, built-in ones too', { skip }, () => {
  const ws = workspace({
    'fisherflow.yaml': `stages:
  bad:
    run: exit 5
  one:
    uses: write
    with: { text: "1" }
  two:
    run: cat \${{ stages.one.outputs.file }} > two.txt
    outs: [two.txt]
  after:
    run: "true"
    needs: [bad]
`,
  });
  writeFileSync(join(ws, 'fisherflow.config.yaml'), CONFIG.replace('executor: slurm\n', ''));
  const r = cli(['run', '--executor', 'slurm', '--keep-going', '--json'], { cwd: ws, env });
  assert.equal(r.code, 1, r.stderr);
  const st = Object.fromEntries((JSON.parse(r.stdout) as { stages: Array<{ name: string; status: string }> }).stages.map((s) => [s.name, s.status]));
  assert.deepEqual(st, { bad: 'failed', one: 'ran', two: 'ran', after: 'skipped' });
  assert.equal(readFileSync(join(ws, 'two.txt'), 'utf8'), '1');
});

test('two GPU stages run at once on distinct devices, each with CUDA_VISIBLE_DEVICES from Slurm; a rerun submits nothing', { skip }, () => {
  // Each stage waits for the other to start, so they must run at the same time to finish.
  const ws = workspace({
    'fisherflow.config.yaml': CONFIG,
    'fisherflow.yaml': `stages:
  gpu:
    foreach: [x, y]
    run: >-
      touch started-\${{ item }};
      for i in $(seq 1 300); do [ -e started-x ] && [ -e started-y ] && break; sleep 0.1; done;
      [ -e started-x ] && [ -e started-y ] && echo "$CUDA_VISIBLE_DEVICES $FISHERFLOW_DEVICE" > \${{ item }}.dev
    outs: ["\${{ item }}.dev"]
    resources: { gpu: 1, memory: 500MB, time: 10min }
`,
  });
  const r = cli(['run', '--json'], { cwd: ws, env });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const devs = ['x', 'y'].map((k) => readFileSync(join(ws, `${k}.dev`), 'utf8').trim().split(' '));
  assert.deepEqual(devs.map((d) => d[0]).sort(), ['0', '1'], 'distinct devices');
  for (const [visible, device] of devs) assert.equal(device, visible, 'FISHERFLOW_DEVICE agrees with CUDA_VISIBLE_DEVICES');

  const before = calls('sbatch').length;
  const again = cli(['run'], { cwd: ws, env });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /ran 0, cached 2, failed 0/);
  assert.equal(calls('sbatch').length, before, 'no job submitted for cached stages');
});

test('Ctrl-C cancels running and pending jobs with one scancel, exits 130, and leaves nothing in squeue', { skip }, async () => {
  const ws = workspace({
    'fisherflow.config.yaml': CONFIG,
    'fisherflow.yaml': `stages:
  sleep:
    foreach: [1, 2, 3, 4]
    run: sleep 120
`,
  });
  const child = cliAsync(['run'], { cwd: ws, env });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  // Two CPUs: two jobs run, two wait; and fisherflow knows all four ids.
  await until(() => queued(ws).filter((l) => l.endsWith('RUNNING')).length === 2 && queued(ws).length === 4, 60_000, 'two running and two pending jobs');
  await until(() => (out.match(/Slurm job \d+ submitted/g) ?? []).length === 4, 60_000, 'fisherflow to know the four jobs');
  const before = calls('scancel').length;
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 130, out);
  assert.equal(calls('scancel').length - before, 1, 'one scancel');
  assert.equal(calls('scancel').at(-1)!.split(' ').length, 4, 'for all four jobs');
  await until(() => queued(ws).length === 0, 10_000, 'the queue to be empty');
});

test('a job cancelled with scancel from outside fails its stage, saying so', { skip }, async () => {
  const ws = workspace({
    'fisherflow.config.yaml': CONFIG,
    'fisherflow.yaml': 'stages:\n  long:\n    run: echo waiting; sleep 120\n',
  });
  const child = cliAsync(['run'], { cwd: ws, env });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  let id: string | undefined;
  await until(() => (id = jobOf(ws, 'long', 'RUNNING')) !== undefined, 60_000, 'the job to run');
  // Once the stage itself runs (before that, SIGTERM ends exec-stage's start-up and no result is written).
  await until(() => /waiting/.test(cli(['logs', 'long'], { cwd: ws, env }).stdout), 60_000, 'the stage to log');
  execFileSync(realBin('scancel'), [id!]);
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 1, out);
  assert.match(out, new RegExp(`FAILED long after .*: stage long: Slurm job ${id} on \\S+ was cancelled outside fisherflow \\(scancel, or by an administrator\\); the stage was stopped by SIGTERM`));
});

test('jobs that vanish from squeue: the result file decides; none within result_wait is a clear failure', { skip }, async () => {
  const ws = workspace({
    'fisherflow.config.yaml': CONFIG,
    'fisherflow.yaml': `stages:
  fine:
    run: sleep 5; echo done > fine.txt
    outs: [fine.txt]
  lost:
    run: echo about to lose the job; sleep 5; kill -9 $PPID
`,
  });
  const child = cliAsync(['run', '--keep-going'], { cwd: ws, env });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  // Once fisherflow has seen both jobs running (it prints the node), they vanish.
  await until(() => /start fine on node/.test(out) && /start lost on node/.test(out), 60_000, 'both jobs to run');
  const ids = ['fine', 'lost'].map((stage) => jobOf(ws, stage)!);
  // As if slurmctld had purged them while they ran.
  writeFileSync(join(wrapDir, 'hide'), ids.join('\n') + '\n');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  writeFileSync(join(wrapDir, 'hide'), '');
  assert.equal(code, 1, out);
  assert.match(out, /done fine in/);
  assert.equal(readFileSync(join(ws, 'fine.txt'), 'utf8'), 'done\n');
  assert.match(out, new RegExp(`FAILED lost after .*: stage lost: Slurm job ${ids[1]} vanished from squeue \\(last seen RUNNING on \\S+\\) and left no result file within 6s`));
  assert.match(out, /\| about to lose the job/);
});
