// Locate repo files from a test, whether it runs from test/ (tsx) or dist/test/ (compiled).
import { join } from 'node:path';
import { repoRoot as repoRootOf } from '../helpers/repo-root.js';

export const repoRoot = repoRootOf();
export const repoPath = (...parts: string[]): string => join(repoRoot, ...parts);
export const fixturePath = (...parts: string[]): string => join(repoRoot, 'test', 'fixtures', 'text', ...parts);
