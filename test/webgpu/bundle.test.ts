// The portable bundle (scripts/bundle.mjs): built into a temporary folder with a low xz level (a
// bigger bundle than the real level 9, so the size check is stricter), copied nowhere near a
// node_modules folder, then run on the fixture pipeline with its own Node.js: the first run unpacks
// Node and Dawn with python3's lzma (no xz on PATH), the fim stage runs on webgpu (Dawn through the
// bundled Vulkan loader) and on wasm, and both Fishers equal PyTorch's. Needs xz, libvulkan1 and a
// WebGPU adapter (CI installs them); skipped with the reason elsewhere. Its stage keys are an
// install's: this checkout's CLI then finds the results up to date.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { cli, REPO_ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/stage-context.js';
import { probeWebgpu, webgpuSkip } from '../helpers/webgpu.js';
import { fixtureDir } from '../model/paths.js';
import { assertPyTorchFisher } from '../model/pytorch-reference.js';
import { SafetensorsFile } from '../../ml/safetensors/format.js';

const SIZE_LIMIT = 60 * 2 ** 20;

test('the bundle script\'s folder runs the fixture pipeline without node_modules, xz or a system Node.js', { skip: webgpuSkip(), timeout: 600_000 }, (t) => {
  const out = join(tempDir('ff-bundle-'), 'fisherflow-linux-x64');
  const t0 = performance.now();
  const build = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'bundle.mjs'), '--out', out, '--xz-level', '1'], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr + build.stdout);
  const info = JSON.parse(readFileSync(join(out, 'BUNDLE.json'), 'utf8'));
  assert.ok(info.bytes < SIZE_LIMIT, `bundle is ${info.bytes} bytes`);
  for (const f of ['fisherflow', 'runtime/node.xz', 'runtime/lib/libvulkan.so.1', 'app/dist/src/cli/main.js', 'app/dist/stages/fim/stage.js', 'app/node_modules/webgpu/dist/linux-x64/dawn.node.xz']) {
    assert.ok(existsSync(join(out, f)), f);
  }

  // A workspace with its own copy of the fixtures, and a PATH with python3 but no xz and no node.
  const ws = tempDir('ff-bundle-ws-');
  cpSync(fixtureDir(), join(ws, 'fixture'), { recursive: true });
  const backends = ['wasm', ...(probeWebgpu().adapter || process.env.FISHERFLOW_REQUIRE_WEBGPU === '1' ? ['webgpu'] : [])];
  writeFileSync(join(ws, 'fisherflow.yaml'), `stages:
  fisher:
    foreach: [${backends.join(', ')}]
    uses: fim
    with: { model: fixture/tiny-bert, data: fixture/data.jsonl, batch_size: 3, backend: "\${{ item }}" }
`);
  const bin = join(ws, 'bin');
  mkdirSync(bin);
  for (const tool of ['dirname', 'chmod', 'mv', 'rm', 'python3']) {
    // Debian's python3 (the first one on PATH may be a pyenv shim, a bash script).
    const found = tool === 'python3' && existsSync('/usr/bin/python3') ? '/usr/bin/python3' : spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    assert.ok(found, `${tool} on this machine`);
    symlinkSync(found, join(bin, tool));
  }
  // Mesa's shader cache stays the user's (XDG_CACHE_HOME): lavapipe compiling every shader afresh
  // would take minutes.
  const env: NodeJS.ProcessEnv = { PATH: bin, HOME: ws, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), FISHERFLOW_GPUS: '' };
  for (const k of ['VK_DRIVER_FILES', 'VK_ICD_FILENAMES', 'XDG_DATA_DIRS', 'MESA_SHADER_CACHE_DIR']) if (process.env[k]) env[k] = process.env[k];
  const t1 = performance.now();
  const run = spawnSync(join(out, 'fisherflow'), ['run'], { cwd: ws, env, encoding: 'utf8', timeout: 540_000 });
  assert.equal(run.status, 0, run.stderr + run.stdout);
  t.diagnostic(`bundle built in ${((t1 - t0) / 1000).toFixed(1)} s (${(info.bytes / 2 ** 20).toFixed(1)} MiB at xz -1); first run (unpacking included) ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  assert.ok(existsSync(join(out, 'runtime', 'node')) && existsSync(join(out, 'app/node_modules/webgpu/dist/linux-x64/dawn.node')), 'unpacked on first use');

  // Stage keys are an install's: this checkout's CLI finds the bundle's results up to date.
  const status = cli(['status'], { cwd: ws });
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`${backends.length} up to date, 0 stale`), status.stdout);

  for (const backend of backends) {
    const path = spawnSync(join(out, 'fisherflow'), ['show', `fisher@${backend}.fim`], { cwd: ws, env, encoding: 'utf8' }).stdout.trim();
    const f = SafetensorsFile.open(path);
    try {
      assert.equal(f.metadata.backend, backend);
      if (backend === 'webgpu') assert.equal(f.metadata.adapter, probeWebgpu().adapter);
      assertPyTorchFisher(new Map(f.names().map((n) => [n, f.readFloat32(n)])), 'empirical');
    } finally { f.close(); }
  }
});
