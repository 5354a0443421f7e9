// `npm test` stays quiet (issue 15, item 6): scripts/quiet-reporter.mjs holds back what a test file
// prints outside its tests (a driver's warnings, a library's banner) unless one of its tests fails,
// where that output may explain the failure; tests' own diagnostics pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/stage-context.js';

test('a passing file\'s stray output is held back; a failing file\'s is shown; diagnostics pass', () => {
  const dir = tempDir('ff-quiet-');
  writeFileSync(join(dir, 'passes.test.mjs'), "import { test } from 'node:test';\nconsole.error('Warning: noise from a passing file');\nconsole.log('a banner');\ntest('passes', (t) => t.diagnostic('a figure worth reading'));\n");
  writeFileSync(join(dir, 'fails.test.mjs'), "import { test } from 'node:test';\nconsole.error('Warning: noise before a failure');\ntest('fails', () => { throw new Error('boom'); });\n");
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // set by the runner running this file; a nested run would report to it
  const r = spawnSync(process.execPath, ['--test', `--test-reporter=${join(REPO_ROOT, 'scripts', 'quiet-reporter.mjs')}`, 'passes.test.mjs', 'fails.test.mjs'], { cwd: dir, encoding: 'utf8', env });
  assert.equal(r.status, 1, r.stderr);
  assert.doesNotMatch(r.stdout, /noise from a passing file|a banner/);
  assert.match(r.stdout, /# a figure worth reading/);
  assert.match(r.stdout, /# Warning: noise before a failure\nnot ok \d+ - fails/);
  assert.match(r.stdout, /# pass 1\n# fail 1/);
});
