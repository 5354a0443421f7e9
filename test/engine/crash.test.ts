// The engine dies, however it dies (SIGKILL, SIGHUP, SIGTERM, a second Ctrl-C, its stdout closed
// by `| head`): no process of a running stage outlives it, and the next run's result is
// byte-identical to a clean run's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REPO_ROOT, cli, cliAsync, runJson, workspace } from '../helpers/cli.js';
import { processesIn, removeAfterTests, waitFor } from '../helpers/processes.js';

function ws(files: Record<string, string>): string {
  const d = workspace(files);
  removeAfterTests(d);
  return d;
}

/** The slow-lines test stage (test/engine/stages/slow-lines), as a built-in worker stage. */
const STAGES_ENV = { FISHERFLOW_STAGES_PATH: join(REPO_ROOT, 'dist', 'test', 'engine', 'stages') };

// Both stages write 10 lines; after the second they wait while the file 'hold' exists (so a
// survivor of a killed run would be caught running, whatever the machine's load).
const COMMAND_STAGE = `stages:
  slow:
    run: for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i >> out.txt; sleep 0.1; while [ $i = 2 ] && [ -f hold ]; do sleep 0.05; done; done
    outs: [out.txt]
`;
const WORKER_STAGE = `stages:
  slow:
    uses: slow-lines
    with: { lines: 10, interval_ms: 100, hold: hold, hold_after: 2 }
`;

const lineCount = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);

function storeRecords(dir: string): string[] {
  const runs = join(dir, 'artifacts', 'runs');
  return existsSync(runs) ? readdirSync(runs).flatMap((s) => readdirSync(join(runs, s))) : [];
}

/** Starts `fisherflow run`, waits until the stage has written `lines` lines to `progressFile`, and SIGKILLs the engine. */
async function killEngineMidStage(dir: string, progressFile: () => string | undefined, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const child = cliAsync(['run'], { cwd: dir, env });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.on('exit', r));
  assert.ok(await waitFor(() => { const f = progressFile(); return f !== undefined && lineCount(f) >= 2; }), `the stage never started: ${out}`);
  child.kill('SIGKILL');
  await exited;
}

for (const [kind, pipeline, env, output] of [
  ['a command stage', COMMAND_STAGE, {}, (d: string) => join(d, 'out.txt')],
  ['a built-in worker stage', WORKER_STAGE, STAGES_ENV, (d: string) => { const w = join(d, 'artifacts', 'work'); return existsSync(w) && readdirSync(w).length ? join(w, readdirSync(w)[0], 'lines.txt') : undefined; }],
] as const) {
  test(`SIGKILL of the engine in the middle of ${kind}: no process of the stage survives, and the next run's result is byte-identical to a clean run's`, async () => {
    const dir = ws({ 'fisherflow.yaml': pipeline, hold: '' });
    await killEngineMidStage(dir, () => output(dir), env);
    // The stage's shell or worker, and the worker's grandchild, die with the engine (a survivor
    // would wait on 'hold' for ever).
    const left = await waitFor(() => processesIn(dir).length === 0, 10_000);
    assert.ok(left, `still running after the engine died: ${JSON.stringify(processesIn(dir))}`);
    assert.deepEqual(storeRecords(dir), [], 'no result of the killed run');
    rmSync(join(dir, 'hold'));

    const again = cli(['run'], { cwd: dir, env });
    assert.equal(again.code, 0, again.stderr + again.stdout);
    assert.match(again.stdout, /taking over a stale workspace lock/);
    const clean = ws({ 'fisherflow.yaml': pipeline });
    assert.deepEqual(Object.values(runJson(clean, [], env)), ['ran']);
    const result = (d: string) => readFileSync(cli(['show', 'slow'], { cwd: d, env }).stdout.trim());
    assert.deepEqual(result(dir), result(clean));
    if (kind === 'a command stage') assert.equal(readFileSync(join(dir, 'out.txt'), 'utf8'), readFileSync(join(clean, 'out.txt'), 'utf8'));
    assert.deepEqual(processesIn(dir), []);
  });
}

for (const sig of ['SIGHUP', 'SIGTERM'] as const) {
  test(`${sig} behaves as Ctrl-C: running stages are stopped, nothing half-done is recorded, exit 130`, async () => {
    const dir = ws({ 'fisherflow.yaml': COMMAND_STAGE, hold: '' });
    const child = cliAsync(['run'], { cwd: dir });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    assert.ok(await waitFor(() => lineCount(join(dir, 'out.txt')) >= 2));
    child.kill(sig);
    assert.equal(await exited, 130);
    assert.ok(await waitFor(() => processesIn(dir).length === 0, 10_000), JSON.stringify(processesIn(dir)));
    assert.deepEqual(storeRecords(dir), []);
    assert.equal(existsSync(join(dir, '.fisherflow', 'run.lock')), false, 'the workspace lock is released');
  });
}

test('a second Ctrl-C kills every stage process group (SIGKILL) before exiting 130, even a stage that ignores SIGTERM', async () => {
  const dir = ws({
    'fisherflow.yaml': `stages:
  stubborn:
    run: trap '' TERM INT; for i in $(seq 100); do echo $i >> out.txt; sleep 0.2; done
    outs: [out.txt]
`,
  });
  const child = cliAsync(['run'], { cwd: dir });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  assert.ok(await waitFor(() => lineCount(join(dir, 'out.txt')) >= 1));
  child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGINT');
  assert.equal(await exited, 130);
  // The stage ignores SIGTERM: only the SIGKILL of the second Ctrl-C stops it.
  assert.ok(await waitFor(() => processesIn(dir).length === 0, 10_000), JSON.stringify(processesIn(dir)));
  const n = lineCount(join(dir, 'out.txt'));
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(lineCount(join(dir, 'out.txt')), n, 'nothing writes any more');
  assert.equal(existsSync(join(dir, '.fisherflow', 'run.lock')), false, 'the workspace lock is released on the way out');
});

test('stdout closed early (`fisherflow run | head -1`) is harmless: the run completes, no stack trace, no stray process', async () => {
  const dir = ws({ 'fisherflow.yaml': COMMAND_STAGE });
  const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" run 2>err.txt | head -1; echo "\${PIPESTATUS[0]}" > code.txt`], { cwd: dir, encoding: 'utf8', env: { ...process.env, FISHERFLOW_GPUS: '' } });
  assert.equal(r.status, 0);
  assert.equal(r.stdout.split('\n').filter(Boolean).length, 1);
  assert.equal(readFileSync(join(dir, 'err.txt'), 'utf8'), '');
  assert.equal(readFileSync(join(dir, 'code.txt'), 'utf8').trim(), '0');
  assert.equal(lineCount(join(dir, 'out.txt')), 10);
  assert.deepEqual(runJson(dir), { slow: 'cached' });
  assert.deepEqual(processesIn(dir), []);
});

test('taking over a dead run\'s workspace lock first kills the process groups it left running', async () => {
  const dir = ws({ 'fisherflow.yaml': 'stages:\n  a:\n    run: echo a > a.txt\n    outs: [a.txt]\n' });
  // A run that recorded a stage group and died without its guard: the group is still running.
  const script = join(mkdtempSync(join(tmpdir(), 'ff-lock-')), 'dead-run.mjs');
  removeAfterTests(join(script, '..'));
  writeFileSync(script, `
import { spawn } from 'node:child_process';
import { WorkspaceLock } from '${join(REPO_ROOT, 'dist', 'src', 'cache', 'workspace-lock.js')}';
const lock = new WorkspaceLock(${JSON.stringify(join(dir, '.fisherflow', 'run.lock'))});
lock.acquire('fisherflow run (test)');
const stage = spawn('sh', ['-c', 'while :; do sleep 1; done'], { cwd: ${JSON.stringify(dir)}, detached: true, stdio: 'ignore' });
lock.recordGroup({ pgid: stage.pid, stage: 'a' });
console.log('ready');
setInterval(() => {}, 1000);
`);
  const dead = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((r) => dead.stdout.on('data', () => r()));
  dead.kill('SIGKILL');
  await new Promise((r) => dead.on('exit', r));
  assert.equal(processesIn(dir).length >= 1, true, 'the orphaned group runs');
  const r = cli(['run'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /taking over a stale workspace lock left by pid \d+ .*; killed 1 process group it left running \(stage a\)/);
  assert.deepEqual(processesIn(dir), []);
});
