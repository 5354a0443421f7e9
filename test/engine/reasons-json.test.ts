// `status --json` gives each stale stage's reasons as typed objects plus their text: the shape
// editors, CI bots and the report rely on, pinned here field by field (src/plan/reasons.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, runJson, workspace } from '../helpers/cli.js';
import { formatReason, type ReasonJson, type StaleReason } from '../../src/index.js';

const PIPELINE = (n: number) => `params:
  n: ${n}
stages:
  first:
    run: cat in.txt > first.txt && echo \${{ params.n }} >> first.txt
    deps: [in.txt]
    outs: { text: first.txt }
  second:
    uses: write
    with: { text: "\${{ stages.first.outputs.text }}" }
`;

interface StatusJson {
  pipeline: string;
  stages: Array<{ name: string; status: string; key: string | null; reasons: ReasonJson[] }>;
}

function status(ws: string): StatusJson {
  const r = cli(['status', '--json'], { cwd: ws });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusJson;
}

const reasons = (s: StatusJson) => Object.fromEntries(s.stages.map((st) => [st.name, st.reasons]));
/** The JSON of a reason: its fields and the text the CLI prints for it. */
const json = (r: StaleReason): ReasonJson => ({ ...r, text: formatReason(r) });

test('status --json: every stale stage with its reasons as {kind, ...fields, text}', () => {
  const ws = workspace({ 'fisherflow.yaml': PIPELINE(1), 'in.txt': 'a\n' });
  const fresh = status(ws);
  assert.equal(fresh.pipeline, 'fisherflow.yaml');
  assert.deepEqual(fresh.stages.map((s) => [s.name, s.status]), [['first', 'stale'], ['second', 'stale']]);
  assert.deepEqual(reasons(fresh), { first: [{ kind: 'never-ran', text: 'never ran' }], second: [{ kind: 'never-ran', text: 'never ran' }] });

  runJson(ws);
  const clean = status(ws);
  assert.deepEqual(clean.stages.map((s) => [s.name, s.status, s.reasons]), [['first', 'up-to-date', []], ['second', 'up-to-date', []]]);
  assert.match(clean.stages[0].key!, /^[0-9a-f]{64}$/);

  // A param and a dep changed; the downstream stage waits for its upstream.
  writeFileSync(join(ws, 'fisherflow.yaml'), PIPELINE(2));
  writeFileSync(join(ws, 'in.txt'), 'b\n');
  const changed = status(ws);
  assert.deepEqual(reasons(changed), {
    first: [
      { kind: 'param', name: 'n', from: 1, to: 2, text: 'param n changed from 1 to 2' },
      { kind: 'dep', path: 'in.txt', change: 'changed', text: 'dep in.txt changed' },
    ],
    second: [{ kind: 'upstream', stage: 'first', text: "upstream stage 'first' will rerun" }],
  });
  // The new key where the inputs are known; none while an upstream stage has yet to rerun.
  assert.match(changed.stages[0].key!, /^[0-9a-f]{64}$/);
  assert.equal(changed.stages[1].key, null);
});

test('status --json: a result gone from the store, and the formatter behind every text', () => {
  const ws = workspace({ 'fisherflow.yaml': PIPELINE(1), 'in.txt': 'a\n' });
  runJson(ws);
  rmSync(join(ws, 'artifacts'), { recursive: true, force: true });
  const r = cli(['status', '--json'], { cwd: ws, env: { FISHERFLOW_NO_FAST_PATH: '1' } });
  assert.deepEqual(reasons(JSON.parse(r.stdout) as StatusJson).first, [json({ kind: 'result-missing' })]);
  // The public formatter is the one the CLI uses.
  assert.deepEqual(json({ kind: 'code', type: 'shout', from: '0123456789abcdef', to: 'fedcba9876543210' }).text, 'stage code changed (shout 01234567 → fedcba98)');
  assert.equal(formatReason({ kind: 'upstream-output', output: 'first.outputs.data', change: 'added' }), 'now reads first.outputs.data');
});
