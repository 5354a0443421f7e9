// The README's stage reference is generated from the stages' schemas; it must not drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { StageRegistry } from '../../src/stage/registry.js';
import { stageReference, spliceReference } from '../../src/cli/stage-reference.js';

test('README stage reference matches the stage schemas (run `npm run docs` to update)', async () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const generated = spliceReference(readme, await stageReference(StageRegistry.fromEnvironment({})));
  assert.equal(readme, generated);
});

test('every built-in stage has a description and a documented schema', async () => {
  const reg = StageRegistry.fromEnvironment({});
  assert.ok(reg.types().length >= 9);
  for (const t of reg.types()) {
    const m = await reg.load(t);
    assert.ok(m.description.length > 10, `${t} has a description`);
    assert.equal((m.inputSchema as { type?: string }).type, 'object', `${t} schema is an object`);
  }
});
