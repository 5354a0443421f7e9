// The repository root, for tests: the package root the engine itself resolves (the folder holding
// package.json), so tests do not depend on the cwd.
import { PACKAGE_ROOT } from '../../src/stage/registry.js';

export function repoRoot(): string {
  return PACKAGE_ROOT;
}
