// `publish:` keeps a stable copy of an output in the workspace (reports/latest.html), refreshed
// after each run and never overwriting a copy someone edited; `{link: …}` in the summary prints
// a file:// URL; `fisherflow show report` prints the report stage's report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cli, workspace } from '../helpers/cli.js';

const PIPELINE = `params:
  n: 1
stages:
  report:
    uses: write
    with: { text: "report \${{ params.n }}", file: page.html }
publish:
  reports/latest.html: \${{ stages.report.outputs.file }}
summary:
  - { link: reports/latest.html, label: Report }
  - { link: "\${{ stages.report.outputs.file }}" }
`;

test('publish copies an output into the workspace, refreshes it, and never overwrites an edited copy', () => {
  const ws = workspace({ 'fisherflow.yaml': PIPELINE });
  const latest = join(ws, 'reports', 'latest.html');
  const first = cli(['run'], { cwd: ws });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(readFileSync(latest, 'utf8'), 'report 1');
  assert.ok(first.stdout.includes(`Report: ${pathToFileURL(latest).href}\n`), first.stdout);
  assert.match(first.stdout, /Open: file:\/\/\/.*\/page\.html/);

  // A change reruns and refreshes the copy.
  const second = cli(['run', '--set', 'n=2'], { cwd: ws });
  assert.equal(second.code, 0, second.stderr);
  assert.equal(readFileSync(latest, 'utf8'), 'report 2');

  // An edited copy is left alone, with a warning; the run still succeeds.
  writeFileSync(latest, 'my notes');
  const third = cli(['run', '--set', 'n=3'], { cwd: ws });
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stderr, /reports\/latest\.html was not overwritten: it changed since fisherflow wrote it/);
  assert.equal(readFileSync(latest, 'utf8'), 'my notes');

  // Removed: the next run (even a no-op one) publishes again.
  rmSync(latest);
  const fourth = cli(['run', '--set', 'n=3'], { cwd: ws });
  assert.equal(fourth.code, 0, fourth.stderr);
  assert.equal(readFileSync(latest, 'utf8'), 'report 3');
});

test('show report prints the path of the report stage\'s report.html', () => {
  const ws = workspace({ 'fisherflow.yaml': 'stages:\n  page:\n    uses: report\n    with: { title: T }\n' });
  const before = cli(['show', 'report'], { cwd: ws });
  assert.notEqual(before.code, 0);
  assert.match(before.stderr, /stage 'page' has no current result .*run the pipeline first/);
  assert.equal(cli(['run'], { cwd: ws }).code, 0);
  const r = cli(['show', 'report'], { cwd: ws });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\/.*\/report\.html\n$/);
  assert.match(readFileSync(r.stdout.trim(), 'utf8'), /<title>T<\/title>/);
});
