// The parse cache (.fisherflow/parsed/) must be invisible: a pipeline read back from it gives the
// same stages, the same errors at the same file:line:column, and any edit is seen at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, runJson, workspace } from '../helpers/cli.js';

const cacheFiles = (ws: string) => {
  try {
    return readdirSync(join(ws, '.fisherflow', 'parsed'));
  } catch {
    return [];
  }
};

test('errors found after parsing keep their location when the text comes from the parse cache', () => {
  // Valid against the schema (so the text is cached), wrong in meaning (an unknown reference).
  const ws = workspace({
    'fisherflow.yaml': 'stages:\n  a:\n    run: echo hi > a.txt\n    outs: [a.txt]\n  b:\n    run: cat ${{ stages.aa.outputs.a }}\n',
  });
  const first = cli(['status'], { cwd: ws });
  assert.notEqual(first.code, 0);
  assert.match(first.stderr, /fisherflow\.yaml:6:10: '[^']+' refers to an unknown stage 'aa'/);
  assert.equal(cacheFiles(ws).length, 1, 'the schema-valid text is cached');
  const second = cli(['status'], { cwd: ws });
  assert.equal(second.code, first.code);
  assert.equal(second.stderr, first.stderr);
});

test('an edited pipeline is parsed again; a damaged cache file is ignored', () => {
  const ws = workspace({ 'fisherflow.yaml': 'params:\n  n: 1\nstages:\n  a:\n    run: echo ${{ params.n }} > a.txt\n    outs: [a.txt]\n' });
  assert.deepEqual(runJson(ws), { a: 'ran' });
  assert.deepEqual(runJson(ws), { a: 'cached' });
  writeFileSync(join(ws, 'fisherflow.yaml'), 'params:\n  n: 2\nstages:\n  a:\n    run: echo ${{ params.n }} > a.txt\n    outs: [a.txt]\n');
  assert.match(cli(['status'], { cwd: ws }).stdout, /param n changed from 1 to 2/);
  // Same text again, but the cache file is garbage: still correct.
  const [file] = cacheFiles(ws);
  writeFileSync(join(ws, '.fisherflow', 'parsed', file), '{"format":1,"yaml":');
  assert.match(cli(['status'], { cwd: ws }).stdout, /param n changed from 1 to 2/);
  // A schema error in an edited file is reported even though the earlier text passed.
  writeFileSync(join(ws, 'fisherflow.yaml'), 'stages:\n  a:\n    run: echo hi\n    retries: many\n');
  for (let i = 0; i < 2; i++) assert.match(cli(['status'], { cwd: ws }).stderr, /fisherflow\.yaml:4:14: stages\.a\.retries must be integer/);
});
