// A built-in stage's output named after a path input (`copy` keeps the file's name) when that
// input is another stage's output: the name is the upstream output's, not its placeholder's, so
// the stage writes what was declared (a run used to fail with "did not write its output").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cli, workspace } from '../helpers/cli.js';

test('copy of another stage\'s output keeps that output\'s file name, through a chain of copies', () => {
  const ws = workspace({
    'fisherflow.yaml': `stages:
  w:
    run: mkdir -p out && echo hi > out/f.txt
    outs: { file: out/f.txt }
  c:
    uses: copy
    with: { path: "\${{ stages.w.outputs.file }}" }
  d:
    uses: copy
    with: { path: "\${{ stages.c.outputs.copy }}" }
`,
  });
  const r = cli(['run'], { cwd: ws });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  for (const stage of ['c', 'd']) {
    const shown = cli(['show', `${stage}.copy`], { cwd: ws });
    assert.equal(shown.code, 0, shown.stderr);
    const path = shown.stdout.trim();
    assert.match(path, /\/f\.txt$/, stage);
    assert.equal(readFileSync(path, 'utf8'), 'hi\n');
  }
  assert.equal(cli(['run'], { cwd: ws }).code, 0);
});
