// Progress display: plain lines (exact text), json (silent), and the TTY view driven into a fake
// terminal stream (checked for its content; the live look was also checked by eye in tmux).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDisplay, displayModeFor, fmtDuration, type DisplayEvent } from '../../src/exec/display.js';
import type { RunEvent } from '../../src/run/events.js';

// Compile-time contract: every event of the run loop can be handed to the display as is.
export const runEventsFitTheDisplay = (e: RunEvent): DisplayEvent => e;

function capture(isTTY: boolean): Writable & { text: string; isTTY: boolean; columns: number } {
  const s = new Writable({
    write(chunk, _enc, cb) {
      s.text += chunk.toString();
      cb();
    },
  }) as Writable & { text: string; isTTY: boolean; columns: number };
  s.text = '';
  s.isTTY = isTTY;
  s.columns = 140;
  return s;
}

const PLAN: DisplayEvent = { type: 'plan', stages: [{ name: 'load', status: 'cached' }, { name: 'fim@tic', status: 'stale', reasons: [{ kind: 'input', name: 'take', from: 1, to: 2 }] }, { name: 'fim@toc', status: 'stale' }, { name: 'overlap', status: 'stale' }] };
const FAILED: DisplayEvent = { type: 'end', stage: 'fim@toc', status: 'failed', seconds: 4, error: 'stage fim@toc was killed by SIGKILL (out of memory?)', logTail: ['loading model', 'batch 12'], logFile: 'logs/fim@toc.log' };

test('plain: one line per event, progress at most once per interval per stage', () => {
  let t = 0;
  const out = capture(false);
  const d = createDisplay({ mode: 'plain', stream: out, now: () => t, progressIntervalMs: 5000 });
  d.handle(PLAN);
  d.handle({ type: 'start', stage: 'fim@tic', gpus: ['0'] });
  d.handle({ type: 'start', stage: 'fim@toc', gpus: [] });
  for (let i = 0; i <= 100; i++) {
    t = i * 100; // 10 s of progress reports every 100 ms
    d.handle({ type: 'progress', stage: 'fim@tic', done: i * 10, total: 1000, note: 'examples' });
  }
  d.handle({ type: 'log', stage: 'fim@tic', line: 'not shown without showLogs' });
  d.handle({ type: 'retry', stage: 'fim@toc', attempt: 2, of: 3, error: 'exit code 1' });
  d.handle({ type: 'start', stage: 'fim@toc', gpus: [], attempt: 2 });
  d.handle({ type: 'note', stage: 'load', message: 'restored data/train.tsv from the store' });
  d.handle({ type: 'end', stage: 'fim@tic', status: 'ran', seconds: 10 });
  d.handle({ type: 'end', stage: 'load', status: 'cached', seconds: 0 });
  d.handle(FAILED);
  d.handle({ type: 'end', stage: 'overlap', status: 'skipped', seconds: 0, error: 'needs fim@toc, which failed' });
  d.handle({ type: 'summary', ran: 1, cached: 1, failed: 1, skipped: 1, seconds: 10.5 });
  d.close();
  d.handle({ type: 'start', stage: 'late', gpus: [] });
  assert.equal(out.text, [
    'plan: 4 stages, 3 to run, 1 cached',
    '  will run fim@tic: input take changed from 1 to 2',
    '  will run fim@toc',
    '  will run overlap',
    'start fim@tic on gpu 0',
    'start fim@toc',
    'fim@tic: 500/1000 (50%) 100/s ETA 5.0s examples',
    'fim@tic: 1000/1000 (100%) 100/s examples',
    'retry fim@toc (attempt 2 of 3) after: exit code 1',
    'start fim@toc (attempt 2)',
    'load: restored data/train.tsv from the store',
    'done fim@tic in 10s',
    'FAILED fim@toc after 4.0s: stage fim@toc was killed by SIGKILL (out of memory?)',
    '  last 2 lines of logs/fim@toc.log:',
    '  | loading model',
    '  | batch 12',
    'skipped overlap: needs fim@toc, which failed',
    'ran 1, cached 1, failed 1, skipped 1 in 11s',
    '',
  ].join('\n'));
});

test('plain: log lines with showLogs; long plans are cut', () => {
  const out = capture(false);
  const d = createDisplay({ mode: 'plain', stream: out, showLogs: true, planListLimit: 2 });
  d.handle(PLAN);
  d.handle({ type: 'log', stage: 'fim@tic', line: 'epoch 1' });
  assert.match(out.text, /  … and 1 more\n/);
  assert.match(out.text, /fim@tic \| epoch 1\n/);
  d.handle({ type: 'summary', ran: 0, cached: 1, failed: 0, skipped: 2, seconds: 1, interrupted: true });
  assert.match(out.text, /interrupted: ran 0, cached 1, failed 0, skipped 2 in 1\.0s\n$/);
});

test('json: prints nothing', () => {
  const out = capture(true);
  const d = createDisplay({ mode: 'json', stream: out });
  d.handle(PLAN);
  d.handle(FAILED);
  d.close();
  assert.equal(out.text, '');
  assert.equal(displayModeFor({ isTTY: true }, true), 'json');
  assert.equal(displayModeFor({ isTTY: true }, false), 'tty');
  assert.equal(displayModeFor({}, false), 'plain');
});

test('tty: live bars with counts, rate and ETA; finished stages scroll above', async () => {
  let t = 0;
  const out = capture(true);
  const d = createDisplay({ mode: 'tty', stream: out, now: () => t });
  d.handle(PLAN);
  d.handle({ type: 'start', stage: 'fim@tic', gpus: ['0'] });
  d.handle({ type: 'start', stage: 'fim@toc', gpus: ['1'] });
  d.handle({ type: 'progress', stage: 'fim@tic', done: 0, total: 1000, note: 'examples' });
  t = 5000;
  d.handle({ type: 'progress', stage: 'fim@tic', done: 500, total: 1000, note: 'examples' });
  d.handle({ type: 'log', stage: 'fim@toc', line: 'loading model' });
  await sleep(450); // the view redraws on its own timer (5 fps)
  // eslint-disable-next-line no-control-regex
  const frame = out.text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  assert.match(frame, /plan: 4 stages, 3 to run, 1 cached/);
  assert.match(frame, /fisherflow  2 running · 1\/4 done · 1 cached · 0 failed/);
  assert.match(frame, /fim@tic\s+█+░+ 500\/1000 \(50%\) 100\/s ETA 5\.0s  5\.0s \[gpu 0\]  examples/);
  assert.match(frame, /fim@toc\s+running 5\.0s \[gpu 1\]  loading model/);
  assert.match(out.text, /\x1b\[\?25l/, 'cursor hidden while live');
  d.handle({ type: 'end', stage: 'fim@tic', status: 'ran', seconds: 5 });
  d.handle(FAILED);
  d.handle({ type: 'summary', ran: 1, cached: 1, failed: 1, skipped: 0, seconds: 5.2 });
  d.close();
  d.close();
  // eslint-disable-next-line no-control-regex
  const final = out.text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  assert.match(final, /✓ fim@tic 5\.0s/);
  assert.match(final, /✗ FAILED fim@toc after 4\.0s: stage fim@toc was killed by SIGKILL \(out of memory\?\)\n  last 2 lines of logs\/fim@toc\.log:\n  \| loading model\n  \| batch 12/);
  assert.match(final, /ran 1, cached 1, failed 1 in 5\.2s/);
  assert.ok(out.text.lastIndexOf('\x1b[?25h') > out.text.lastIndexOf('\x1b[?25l'), 'cursor restored at the end');
});

test('tty: a retried stage keeps one bar; notes scroll above', () => {
  const out = capture(true);
  const d = createDisplay({ mode: 'tty', stream: out });
  d.handle({ type: 'start', stage: 'train', gpus: ['0'], attempt: 1 });
  d.handle({ type: 'note', stage: 'train', message: 'attempt 1 failed (exit code 1); retrying' });
  d.handle({ type: 'start', stage: 'train', gpus: ['0'], attempt: 2 });
  d.handle({ type: 'end', stage: 'train', status: 'ran', seconds: 1 });
  d.handle({ type: 'summary', ran: 1, cached: 0, failed: 0, skipped: 0, seconds: 1 });
  d.close();
  // eslint-disable-next-line no-control-regex
  const text = out.text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  assert.match(text, /train: attempt 1 failed \(exit code 1\); retrying/);
  assert.match(text, /1 running/);
  assert.doesNotMatch(text, /2 running/);
  assert.match(text, /✓ train 1\.0s/);
});

test('a batch queue: queued stages show the scheduler\'s state and reason, then the node they run on', async () => {
  let t = 0;
  const plain = capture(false);
  const p = createDisplay({ mode: 'plain', stream: plain, now: () => t });
  p.handle({ type: 'queued', stage: 'train', detail: 'Slurm job 12 submitted' });
  p.handle({ type: 'queued', stage: 'train', detail: 'Slurm job 12 PENDING (Resources)' });
  p.handle({ type: 'queued', stage: 'train', detail: 'Slurm job 12 PENDING (Resources)' });
  p.handle({ type: 'start', stage: 'train', gpus: [], where: 'node gpu07, Slurm job 12' });
  p.handle({ type: 'end', stage: 'train', status: 'ran', seconds: 3 });
  p.close();
  assert.equal(plain.text, 'queued train: Slurm job 12 submitted\nqueued train: Slurm job 12 PENDING (Resources)\nstart train on node gpu07, Slurm job 12\ndone train in 3.0s\n');

  const out = capture(true);
  const d = createDisplay({ mode: 'tty', stream: out, now: () => t });
  d.handle({ type: 'queued', stage: 'fim@a', detail: 'Slurm job 7 PENDING (Priority)' });
  d.handle({ type: 'queued', stage: 'fim@b', detail: 'Slurm job 8 PENDING (Resources)' });
  d.handle({ type: 'start', stage: 'fim@b', gpus: [], where: 'node gpu07, Slurm job 8' });
  t = 3000;
  await sleep(450);
  // eslint-disable-next-line no-control-regex
  const frame = out.text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  d.close();
  assert.match(frame, /fisherflow  1 running · 1 queued · /);
  assert.match(frame, /fim@a\s+queued 3\.0s  Slurm job 7 PENDING \(Priority\)/);
  assert.match(frame, /fim@b\s+running 3\.0s \[node gpu07, Slurm job 8\]/);
});

test("one ETA per progress line: the display's, from done/total; a training stage's note adds the epoch and loss only", () => {
  let t = 0;
  const out = capture(false);
  const d = createDisplay({ mode: 'plain', stream: out, now: () => t, progressIntervalMs: 1000 });
  d.handle({ type: 'plan', stages: [{ name: 'train@st', status: 'stale' }] });
  d.handle({ type: 'start', stage: 'train@st', gpus: [] });
  for (let i = 0; i <= 30; i++) {
    t = i * 100;
    d.handle({ type: 'progress', stage: 'train@st', done: i * 4, total: 400, note: `epoch 1/3 · loss 0.${6900 - i}` });
  }
  const lines = out.text.split('\n').filter((l) => l.startsWith('train@st:'));
  assert.deepEqual(lines, ['train@st: 40/400 (10%) 40.0/s ETA 9.0s epoch 1/3 · loss 0.6890', 'train@st: 80/400 (20%) 40.0/s ETA 8.0s epoch 1/3 · loss 0.6880', 'train@st: 120/400 (30%) 40.0/s ETA 7.0s epoch 1/3 · loss 0.6870']);
  for (const l of lines) assert.equal(l.match(/ETA/g)!.length, 1, l);
});

test('fmtDuration', () => {
  assert.deepEqual([0.25, 12.4, 75, 3725].map(fmtDuration), ['0.3s', '12s', '1m15s', '1h02m']);
});
