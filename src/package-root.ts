// The root of the installed fisherflow package (the folder holding its package.json), found from
// this file's own location so that it holds in the repository, in dist/ and under node_modules,
// and the package's version. A leaf module on purpose: stage workers import it (through
// load-module.ts), and should start fast.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('fisherflow: cannot find its package.json');
    dir = up;
  }
  return dir;
})();

let version: string | undefined;
/** fisherflow's version, from its package.json. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}
