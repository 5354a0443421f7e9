// Locates the repository root from the compiled or source test file, so tests do not depend on cwd.
import { repoRoot } from '../helpers/repo-root.js';
export { repoRoot };
import { join } from 'node:path';

export function fixturePath(name: string): string {
  return join(repoRoot(), 'test', 'fixtures', 'train', name);
}
