// A built-in stage's code version covers the files that change its bytes beyond its JS imports:
// the native BLAS addon's C source and build files, declared by the module that loads it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StageRegistry, hashModuleClosure, moduleClosure, PACKAGE_ROOT } from '../../src/stage/registry.js';

test('the native BLAS addon\'s sources are part of the code version of the stages that load it', () => {
  const reg = StageRegistry.fromEnvironment({});
  for (const t of ['fim', 'train']) {
    const files = moduleClosure(reg.entry(t).modulePath).map((f) => f.slice(PACKAGE_ROOT.length + 1));
    assert.ok(files.includes('native/blas/blas.c') && files.includes('native/blas/binding.gyp'), `${t}: ${files.filter((f) => !f.endsWith('.js')).join(', ')}`);
  }
  assert.ok(!moduleClosure(reg.entry('load').modulePath).some((f) => f.endsWith('.c')), 'stages that never load it are not keyed on it');
  // An edit of a declared C file changes the code version of a module that declares it.
  const pkg = mkdtempSync(join(tmpdir(), 'ff-pkg-'));
  writeFileSync(join(pkg, 'package.json'), '{}');
  mkdirSync(join(pkg, 'native'));
  writeFileSync(join(pkg, 'native', 'k.c'), 'int k(void) { return 1; }\n');
  writeFileSync(join(pkg, 'addon.js'), "export const CODE_VERSION_FILES = ['native/k.c'];\n");
  writeFileSync(join(pkg, 'stage.js'), "import { CODE_VERSION_FILES } from './addon.js';\nexport default {};\n");
  const before = hashModuleClosure(join(pkg, 'stage.js'));
  writeFileSync(join(pkg, 'native', 'k.c'), 'int k(void) { return 2; }\n');
  assert.notEqual(hashModuleClosure(join(pkg, 'stage.js')), before);
});
