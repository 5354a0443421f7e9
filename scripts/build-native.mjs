#!/usr/bin/env node
// Builds fisherflow's optional native BLAS bridge (native/blas) with node-gyp: run by `npm install`
// and `npm run build:native`. It never fails the install: without a C compiler (or with
// FISHERFLOW_SKIP_NATIVE=1) the model stages run on tfjs-backend-wasm alone. The addon links no
// library at build time; a CBLAS library (OpenBLAS, …) is looked up when a stage runs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'native', 'blas');
const log = join(dir, 'build.log');

if (process.env.FISHERFLOW_SKIP_NATIVE) {
  console.log('fisherflow: FISHERFLOW_SKIP_NATIVE is set; the native BLAS addon is not built');
  process.exit(0);
}

// npm hands its bundled node-gyp to lifecycle scripts; otherwise look beside npm itself.
const candidates = [
  process.env.npm_config_node_gyp,
  process.env.npm_execpath && join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter(Boolean);
const gyp = candidates.find((p) => existsSync(p));
if (!gyp) {
  console.log('fisherflow: node-gyp not found; the native BLAS addon is not built (model stages use wasm alone)');
  process.exit(0);
}

const args = [gyp, 'rebuild'];
// Use the headers installed with Node when npm was not told where they are (no download).
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

// A time limit: node-gyp without local headers would try to download them, and must not hang an install.
const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', env: process.env, timeout: 300_000 });
mkdirSync(dir, { recursive: true });
writeFileSync(log, `${r.stdout ?? ''}\n${r.stderr ?? ''}\n${r.error ? String(r.error) : ''}`);
if (r.status === 0 && existsSync(join(dir, 'build', 'Release', 'fisherflow_blas.node'))) {
  console.log('fisherflow: built the native BLAS addon (native/blas/build/Release/fisherflow_blas.node)');
} else {
  console.log(`fisherflow: the native BLAS addon did not build (see ${log}); model stages use wasm alone`);
}
