// Runs the `__NAME__` stage on a small data.jsonl in a temporary folder, as fisherflow would.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StageInputError } from 'fisherflow';
import { runStage } from 'fisherflow/testing';
import stage from '../stages/__NAME__/stage.js';

test('__NAME__ counts the rows of a data.jsonl', async () => {
  const dir = mkdtempSync(join(tmpdir(), '__NAME__-test-'));
  writeFileSync(join(dir, 'data.jsonl'), '{"sentence": "good", "label": 1}\n{"sentence": "bad", "label": 0}\n');
  const run = await runStage(stage, { data: 'data.jsonl' }, { cwd: dir });
  assert.deepEqual(JSON.parse(readFileSync(run.outputs.metrics, 'utf8')), { rows: 2 });
  run.remove();
});

test('__NAME__ names the line that is not JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), '__NAME__-test-'));
  writeFileSync(join(dir, 'data.jsonl'), '{"label": 1}\nnot json\n');
  await assert.rejects(runStage(stage, { data: join(dir, 'data.jsonl') }), (e: Error) => e instanceof StageInputError && /data\.jsonl:2 is not JSON/.test(e.message));
});
