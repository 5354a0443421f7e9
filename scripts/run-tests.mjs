#!/usr/bin/env node
// Runs every compiled `*.test.js` under dist/test with Node's test runner. Node 20 neither
// expands globs itself nor limits a directory argument to *.test.js files (it would run helper
// modules and fixture scripts as tests), so the list is made here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
const files = find('dist/test').filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)));
// With no files, `node --test` would discover every .js under the cwd (fixtures included).
if (files.length === 0) {
  console.error(`run-tests: no dist/test/**/*.test.js matches ${filter.join(', ')} (run \`npm run build\` first?)`);
  process.exit(1);
}
// quiet-reporter.mjs: a file's stray output (driver warnings, library banners) only when it fails.
const reporter = new URL('./quiet-reporter.mjs', import.meta.url).pathname;
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', `--test-reporter=${reporter}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
