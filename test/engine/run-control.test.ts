// The run loop through the CLI: GPU waves, parallel CPU stages, failures, --keep-going, retries,
// Ctrl-C and resuming.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliAsync, workspace } from '../helpers/cli.js';

function statuses(stdout: string): Record<string, string> {
  return Object.fromEntries((JSON.parse(stdout) as { stages: Array<{ name: string; status: string }> }).stages.map((s) => [s.name, s.status]));
}

test('--gpus 0,1: four one-GPU stages run in two waves, one stage per device at a time', () => {
  const ws = workspace({
    'fisherflow.yaml': `stages:
  gpu:
    foreach: [a, b, c, d]
    run: echo "$CUDA_VISIBLE_DEVICES $(date +%s%N)" > \${{ item }}.txt && sleep 1 && echo "$(date +%s%N)" >> \${{ item }}.txt
    outs: ["\${{ item }}.txt"]
    resources: { gpu: 1 }
`,
  });
  const r = cli(['run', '--gpus', '0,1', '-j', '4', '--json'], { cwd: ws });
  assert.equal(r.code, 0, r.stderr);
  const spans = ['a', 'b', 'c', 'd'].map((k) => {
    const [first, end] = readFileSync(join(ws, `${k}.txt`), 'utf8').trim().split('\n');
    const [dev, start] = first.split(' ');
    return { dev, start: Number(start) / 1e6, end: Number(end) / 1e6 };
  });
  assert.deepEqual(new Set(spans.map((s) => s.dev)), new Set(['0', '1']));
  for (const dev of ['0', '1']) {
    const on = spans.filter((s) => s.dev === dev).sort((x, y) => x.start - y.start);
    assert.equal(on.length, 2, `two stages on device ${dev}`);
    assert.ok(on[1].start >= on[0].end, `device ${dev}: the second stage starts after the first ends`);
  }
});

test('-j 2: independent CPU stages overlap in time', () => {
  const ws = workspace({
    'fisherflow.yaml': `stages:
  cpu:
    foreach: [a, b]
    run: echo "$(date +%s%N)" > \${{ item }}.txt && sleep 1 && echo "$(date +%s%N)" >> \${{ item }}.txt
    outs: ["\${{ item }}.txt"]
`,
  });
  assert.equal(cli(['run', '-j', '2'], { cwd: ws }).code, 0);
  const [a, b] = ['a', 'b'].map((k) => readFileSync(join(ws, `${k}.txt`), 'utf8').trim().split('\n').map((x) => Number(x) / 1e6));
  assert.ok(a[0] < b[1] && b[0] < a[1], 'the two stages ran at the same time');
});

test('-j 2 with two cpu: 2 stages: they run one after the other, each gets FISHERFLOW_CPUS=2, and its time counts from its start', () => {
  const ws = workspace({
    'fisherflow.yaml': `stages:
  wide:
    foreach: [a, b]
    run: echo "$FISHERFLOW_CPUS $(date +%s%N)" > \${{ item }}.txt && sleep 1 && echo "$(date +%s%N)" >> \${{ item }}.txt
    outs: ["\${{ item }}.txt"]
    resources: { cpu: 2 }
`,
  });
  const r = cli(['run', '-j', '2', '--json'], { cwd: ws });
  assert.equal(r.code, 0, r.stderr);
  const spans = ['a', 'b'].map((k) => {
    const [first, end] = readFileSync(join(ws, `${k}.txt`), 'utf8').trim().split('\n');
    const [cpus, start] = first.split(' ');
    return { cpus, start: Number(start) / 1e6, end: Number(end) / 1e6 };
  });
  assert.deepEqual(spans.map((s) => s.cpus), ['2', '2']);
  const [x, y] = spans.sort((p, q) => p.start - q.start);
  assert.ok(y.start >= x.end, 'no overlap');
  // The second waited ~1 s for its slots; its reported time is its own run (~1 s), not 2 s.
  const out = JSON.parse(r.stdout) as { stages: Array<{ name: string; seconds: number }> };
  for (const st of out.stages) assert.ok(st.seconds < 1.8, `${st.name}: ${st.seconds} s`);
});

const FAILING = `stages:
  bad:
    run: echo "boom, the reason is here" && sleep 0.3 && exit 3
  other:
    run: sleep 1 && echo ok > other.txt
    outs: [other.txt]
  after:
    run: cat other.txt > after.txt
    deps: [other.txt]
    outs: [after.txt]
`;

test('a failure stops new stages, lets running ones finish, and shows the log tail; --keep-going continues', () => {
  const ws = workspace({ 'fisherflow.yaml': FAILING });
  const plain = cli(['run', '-j', '2'], { cwd: ws });
  assert.equal(plain.code, 1);
  assert.match(plain.stdout, /bad/);
  assert.match(plain.stdout, /boom, the reason is here/);
  const ws2 = workspace({ 'fisherflow.yaml': FAILING });
  const stopped = statuses(cli(['run', '-j', '2', '--json'], { cwd: ws2 }).stdout);
  assert.deepEqual(stopped, { bad: 'failed', other: 'ran', after: 'skipped' });
  const going = statuses(cli(['run', '-j', '2', '--json', '--keep-going'], { cwd: ws2 }).stdout);
  assert.deepEqual(going, { bad: 'failed', other: 'cached', after: 'ran' });
  assert.match(cli(['logs', 'bad'], { cwd: ws2 }).stdout, /boom, the reason is here/);
});

test('retries: a flaky stage succeeds on its second attempt', () => {
  const flaky = (retries: number) => `stages:
  flaky:
    run: if [ -f tried ]; then echo ok > f.txt; else touch tried; exit 1; fi
    outs: [f.txt]
    retries: ${retries}
`;
  const once = workspace({ 'fisherflow.yaml': flaky(0) });
  assert.equal(statuses(cli(['run', '--json'], { cwd: once }).stdout).flaky, 'failed');
  const twice = workspace({ 'fisherflow.yaml': flaky(1) });
  assert.equal(statuses(cli(['run', '--json'], { cwd: twice }).stdout).flaky, 'ran');
});

test('Ctrl-C stops running stages, writes no partial result, and the next run resumes', async () => {
  const ws = workspace({
    'fisherflow.yaml': `stages:
  quick:
    run: echo done > quick.txt
    outs: [quick.txt]
  slow:
    run: echo started > slow.txt && if [ -f hold ]; then sleep 60; fi && echo finished >> slow.txt
    outs: [slow.txt]
    needs: [quick]
`,
    hold: '',
  });
  const child = cliAsync(['run'], { cwd: ws });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  for (let i = 0; i < 200 && !existsSync(join(ws, 'slow.txt')); i++) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGINT');
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 130, out);
  // Only quick has a result; slow's half-written output is not one.
  const records = readdirSync(join(ws, 'artifacts', 'runs')).flatMap((d) => readdirSync(join(ws, 'artifacts', 'runs', d)));
  assert.equal(records.length, 1);
  rmSync(join(ws, 'hold'));
  const again = statuses(cli(['run', '--json'], { cwd: ws }).stdout);
  assert.deepEqual(again, { quick: 'cached', slow: 'ran' });
  assert.equal(readFileSync(join(ws, 'slow.txt'), 'utf8'), 'started\nfinished\n');
});
