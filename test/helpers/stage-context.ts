// Stage contexts for unit tests of built-in stages: the public helper (`fisherflow/testing`), which
// the built-in stages' tests use as a user's would, plus a temp-folder shorthand.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export { makeStageContext, type StageTestContext as TestContext } from '../../src/stage/testing.js';

export function tempDir(prefix = 'ff-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
