// Locates repo files from the compiled or source test file, independent of cwd.
import { repoRoot } from '../helpers/repo-root.js';
export { repoRoot };
import { join } from 'node:path';

export const fixtureDir = (): string => join(repoRoot(), 'test', 'fixtures', 'model');
