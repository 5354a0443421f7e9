// Locate repo files from a test, whether it runs from test/ (tsx) or dist/test/ (compiled).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    // dist/ has no package.json, so the first hit walking up is the repository root.
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const repoRoot = findRepoRoot();
export const repoPath = (...parts: string[]): string => join(repoRoot, ...parts);
export const fixturePath = (...parts: string[]): string => join(repoRoot, 'test', 'fixtures', 'text', ...parts);
