// End-to-end: what reruns and what does not, through the real CLI on temporary workspaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { cli, runJson, ran, workspace, REPO_ROOT } from '../helpers/cli.js';

const PIPELINE = `
params:
  scale: 2
  words: [alpha, beta]
stages:
  prepare:
    run: cp input.txt prepared.txt && echo "scale=\${{ params.scale }}" >> prepared.txt
    deps: [input.txt]
    outs: [prepared.txt]
  count:
    foreach: \${{ params.words }}
    run: grep -c "\${{ item }}" prepared.txt > "count-\${{ item }}.txt" || true
    deps: [prepared.txt]
    outs: ["count-\${{ item }}.txt"]
  side:
    run: cat other.txt > side.txt
    deps: [other.txt]
    outs: [side.txt]
  summary:
    run: cat count-alpha.txt count-beta.txt side.txt > summary.txt
    deps: [count-alpha.txt, count-beta.txt, side.txt]
    outs: [summary.txt]
`;

function fresh() {
  return workspace({ 'fisherflow.yaml': PIPELINE, 'input.txt': 'alpha\nbeta\nalpha\n', 'other.txt': 'other\n' });
}

test('first run runs everything, second run executes nothing', () => {
  const ws = fresh();
  assert.deepEqual(ran(runJson(ws)), ['count@alpha', 'count@beta', 'prepare', 'side', 'summary']);
  assert.deepEqual(ran(runJson(ws)), []);
  assert.equal(readFileSync(join(ws, 'count-alpha.txt'), 'utf8').trim(), '2');
});

test('changing one param reruns exactly the stages downstream of it', () => {
  const ws = fresh();
  runJson(ws);
  const st = cli(['status', '--set', 'scale=3'], { cwd: ws });
  assert.match(st.stdout, /param scale changed from 2 to 3/);
  assert.match(st.stdout, /upstream stage 'prepare' will rerun/);
  // The counts do not change when only the scale line changes, so summary stays cached (early cutoff).
  const s = runJson(ws, ['--set', 'scale=3']);
  assert.deepEqual(ran(s), ['count@alpha', 'count@beta', 'prepare']);
  assert.equal(s.side, 'cached');
  assert.equal(s.summary, 'cached');
});

test('touching a file without changing its content reruns nothing', () => {
  const ws = fresh();
  runJson(ws);
  const future = new Date(Date.now() + 10_000);
  utimesSync(join(ws, 'input.txt'), future, future);
  utimesSync(join(ws, 'other.txt'), future, future);
  assert.deepEqual(ran(runJson(ws)), []);
});

test('editing a dep file reruns its stage and its dependents only', () => {
  const ws = fresh();
  runJson(ws);
  writeFileSync(join(ws, 'other.txt'), 'changed\n');
  const st = cli(['status'], { cwd: ws });
  assert.match(st.stdout, /stale {7}side\n {14}- dep other.txt changed/);
  assert.deepEqual(ran(runJson(ws)), ['side', 'summary']);
});

test('a missing or corrupted store entry is detected and the stage reruns', () => {
  const ws = fresh();
  runJson(ws);
  const lock = JSON.parse(readFileSync(join(ws, 'fisherflow.lock'), 'utf8'));
  const store = join(ws, 'artifacts');
  // Corrupt the stored copy of side.txt: same size, different bytes.
  const sideRecord = JSON.parse(readFileSync(join(store, 'runs', lock.stages.side.key.slice(0, 2), `${lock.stages.side.key}.json`), 'utf8'));
  const obj = join(store, 'objects', sideRecord.tree.slice(0, 2), sideRecord.tree.slice(2), 'side.txt');
  chmodSync(obj, 0o644);
  writeFileSync(obj, 'OTHER\n');
  let st = cli(['status'], { cwd: ws });
  assert.match(st.stdout, /stale {7}side\n {14}- store entry side.txt was modified/);
  assert.deepEqual(ran(runJson(ws)), ['side']);
  // Remove a whole object folder.
  const prep = JSON.parse(readFileSync(join(store, 'runs', lock.stages.prepare.key.slice(0, 2), `${lock.stages.prepare.key}.json`), 'utf8'));
  const dir = join(store, 'objects', prep.tree.slice(0, 2), prep.tree.slice(2));
  chmodSync(join(dir, 'prepared.txt'), 0o644);
  rmSync(dir, { recursive: true });
  st = cli(['status'], { cwd: ws });
  assert.match(st.stdout, /stale {7}prepare\n {14}- store entry is missing prepared.txt/);
  assert.deepEqual(ran(runJson(ws)), ['prepare']);
});

test('a deleted workspace output is restored from the store without rerunning', () => {
  const ws = fresh();
  runJson(ws);
  rmSync(join(ws, 'summary.txt'));
  assert.deepEqual(ran(runJson(ws)), []);
  assert.ok(existsSync(join(ws, 'summary.txt')));
});

test('two identical runs write byte-identical lock files', () => {
  const a = fresh();
  const b = fresh();
  runJson(a);
  runJson(b);
  assert.equal(readFileSync(join(a, 'fisherflow.lock'), 'utf8'), readFileSync(join(b, 'fisherflow.lock'), 'utf8'));
  const before = readFileSync(join(a, 'fisherflow.lock'), 'utf8');
  runJson(a, ['--force']);
  assert.equal(readFileSync(join(a, 'fisherflow.lock'), 'utf8'), before);
});

test('--force reruns the named stage and, through changed outputs, what depends on it', () => {
  const ws = fresh();
  runJson(ws);
  assert.deepEqual(ran(runJson(ws, ['--force', 'side'])), ['side']);
});

test('editing a stage module reruns the stages that use it', () => {
  const stagesDir = join(fresh(), 'user-stages');
  mkdirSync(join(stagesDir, 'shout'), { recursive: true });
  const apiPath = join(REPO_ROOT, 'dist', 'src', 'stage', 'api.js');
  const src = (suffix: string) => `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import '${apiPath}';
export default {
  stageApiVersion: 1, type: 'shout', description: 'upper-case a text', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false },
  outputs: () => ({ out: { path: 'out.txt', kind: 'file' } }),
  async run(ctx) { writeFileSync(join(ctx.outDir, 'out.txt'), ctx.inputs.text.toUpperCase() + '${suffix}'); },
};
`;
  writeFileSync(join(stagesDir, 'shout', 'stage.js'), src('!'));
  const ws = workspace({ 'fisherflow.yaml': 'stages:\n  a:\n    uses: shout\n    with: { text: hi }\n  b:\n    uses: write\n    with: { text: unrelated }\n' });
  const env = { FISHERFLOW_STAGES_PATH: stagesDir };
  assert.deepEqual(ran(runJson(ws, [], env)), ['a', 'b']);
  assert.deepEqual(ran(runJson(ws, [], env)), []);
  writeFileSync(join(stagesDir, 'shout', 'stage.js'), src('!!'));
  const st = cli(['status'], { cwd: ws, env });
  assert.match(st.stdout, /stale {7}a\n {14}- stage code changed \(shout /);
  assert.deepEqual(ran(runJson(ws, [], env)), ['a']);
  const out = cli(['show', 'a.out'], { cwd: ws, env }).stdout.trim();
  assert.equal(readFileSync(out, 'utf8'), 'HI!!');
});

test('the built-in hash covers the files a stage imports', async () => {
  const { hashModuleClosure } = await import('../../src/stage/registry.js');
  const dir = join(fresh(), 'mod');
  mkdirSync(join(dir, 'lib'), { recursive: true });
  writeFileSync(join(dir, 'stage.js'), "import { f } from './lib/f.js';\nexport default f;\n");
  writeFileSync(join(dir, 'lib', 'f.js'), 'export const f = 1;\n');
  const h1 = hashModuleClosure(join(dir, 'stage.js'));
  writeFileSync(join(dir, 'lib', 'f.js'), 'export const f = 2;\n');
  assert.notEqual(hashModuleClosure(join(dir, 'stage.js')), h1);
});

test('SIGKILL in the middle of a stage leaves nothing a later run treats as a result', async () => {
  const ws = workspace({
    'fisherflow.yaml': 'stages:\n  slow:\n    run: echo partial > out.txt && if [ -f slow ]; then sleep 30; fi && echo done >> out.txt\n    outs: [out.txt]\n',
    slow: '',
  });
  const { cliAsync } = await import('../helpers/cli.js');
  const child = cliAsync(['run'], { cwd: ws });
  // Wait until the stage has started writing.
  for (let i = 0; i < 100 && !existsSync(join(ws, 'out.txt')); i++) await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  rmSync(join(ws, 'slow'));
  const runs = join(ws, 'artifacts', 'runs');
  assert.ok(!existsSync(runs) || readdirSync(runs).length === 0, 'no run record may exist');
  const st = cli(['status'], { cwd: ws });
  assert.match(st.stdout, /stale {7}slow\n {14}- never ran/);
  // The next run takes over the dead run's workspace lock, reruns and completes.
  const r = cli(['run'], { cwd: ws, env: {} });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /taking over a stale workspace lock/);
  assert.equal(readFileSync(join(ws, 'out.txt'), 'utf8'), 'partial\ndone\n');
});

