#!/usr/bin/env node
// Builds the portable bundle: one folder that runs `fisherflow` on a Linux x86-64 machine with no
// Node.js, no npm and no network (a GPU machine, through WebGPU: Dawn on the Vulkan driver; or an
// air-gapped cluster node). Usage (after `npm run build`; `npm run bundle` does both):
//
//   node scripts/bundle.mjs [--out DIR] [--xz-level 0-9]
//
// Layout of DIR (default bundle/fisherflow-linux-x64; under 60 MiB, checked at the end):
//   fisherflow                    launcher (sh): unpacks the .xz files on first use, points the
//                                 Vulkan loader at the NVIDIA driver, runs the CLI
//   runtime/node.xz               the Node.js binary running this script, xz-compressed
//   runtime/lib/libvulkan.so.1    the Vulkan loader (Debian's libvulkan1), which Dawn dlopens
//   app/                          fisherflow as an install has it: package.json, bin/, dist/ (src,
//                                 stages, ml, bench), schema/, pipelines/, data/, the native BLAS addon,
//                                 bench/gpu/run.sh (the GPU measurements, bench/gpu.md)
//   app/node_modules/PKG/         each runtime dependency bundled by esbuild into one minified file
//                                 (Node resolves bare imports only in a node_modules folder)
//   app/node_modules/webgpu/      the webgpu package with only its linux-x64 dawn.node (xz)
//
// fisherflow's own compiled files are copied unchanged, so stage discovery, worker processes and
// the stages' implementation hashes (hence cache keys) are those of an ordinary install.
// Compressed files are cached in node_modules/.cache/fisherflow-bundle by content hash and level.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, copyFileSync, cpSync, createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const requireFromRoot = createRequire(join(ROOT, 'package.json'));
export const SIZE_LIMIT = 60 * 2 ** 20;
const MARKER = '.fisherflow-bundle';

function fail(message) {
  console.error(`bundle: ${message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const out = { out: join(ROOT, 'bundle', 'fisherflow-linux-x64'), xzLevel: 9 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') out.out = resolve(argv[++i] ?? fail('--out needs a folder'));
    else if (a === '--xz-level') {
      out.xzLevel = Number(argv[++i]);
      if (!Number.isInteger(out.xzLevel) || out.xzLevel < 0 || out.xzLevel > 9) fail('--xz-level takes 0 to 9');
    } else fail(`unknown argument ${a} (usage: node scripts/bundle.mjs [--out DIR] [--xz-level 0-9])`);
  }
  return out;
}

async function sha256File(path) {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk);
  return h.digest('hex');
}

/** FILE → DEST.xz at `level`, through a cache keyed by content and level (xz -9 of Node takes a minute). */
async function xzInto(file, dest, level) {
  const cacheDir = join(ROOT, 'node_modules', '.cache', 'fisherflow-bundle');
  mkdirSync(cacheDir, { recursive: true });
  const cached = join(cacheDir, `${await sha256File(file)}-${level}.xz`);
  if (!existsSync(cached)) {
    const tmp = `${cached}.${process.pid}.partial`;
    const r = spawnSync('sh', ['-c', 'xz -"$1" -T0 -c -- "$2" > "$3"', 'sh', String(level), file, tmp], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) { rmSync(tmp, { force: true }); fail(`xz failed on ${file}`); }
    renameSync(tmp, cached);
  }
  copyFileSync(cached, dest);
}

/** The Vulkan loader this machine's programs would load (Debian: libvulkan1). */
function findVulkanLoader() {
  const r = spawnSync('sh', ['-c', 'ldconfig -p 2>/dev/null'], { encoding: 'utf8' });
  const fromCache = /libvulkan\.so\.1 \(libc6,x86-64\) => (\S+)/.exec(r.stdout ?? '')?.[1];
  const candidates = [fromCache, '/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];
  const found = candidates.find((p) => p && existsSync(p));
  if (!found) fail('no Vulkan loader (libvulkan.so.1) on this machine to carry along: apt-get install libvulkan1');
  return realpathSync(found);
}

function packageDir(name) {
  const dir = join(ROOT, 'node_modules', name);
  if (!existsSync(join(dir, 'package.json'))) fail(`dependency ${name} is not installed (run npm ci)`);
  return dir;
}

/** ESM packages are bundled from their import entry; CommonJS ones from their require entry. */
function isEsmPackage(pkg) {
  if (pkg.type === 'module' || pkg.module) return true;
  const dot = pkg.exports?.['.'] ?? pkg.exports;
  return typeof dot === 'object' && dot !== null && JSON.stringify(dot).includes('"import"');
}

// CommonJS inside an ES module bundle (emscripten's loader, Node-only branches) still calls
// require() and reads __dirname.
const ESM_BANNER = [
  "import { createRequire as __ffCreateRequire } from 'node:module';",
  "import { fileURLToPath as __ffFileURLToPath } from 'node:url';",
  "import { dirname as __ffDirname } from 'node:path';",
  'const require = __ffCreateRequire(import.meta.url);',
  'const __filename = __ffFileURLToPath(import.meta.url);',
  'const __dirname = __ffDirname(__filename);',
].join('\n');

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** '@tensorflow/tfjs-core/dist/x' → ['@tensorflow/tfjs-core', 'dist/x']. */
function splitSpecifier(spec) {
  const parts = spec.split('/');
  const n = spec.startsWith('@') ? 2 : 1;
  return [parts.slice(0, n).join('/'), parts.slice(n).join('/')];
}

/** Bundles one package into DEST (index.mjs, plus one module per requested subpath), returns the @tensorflow imports it left external. */
async function vendorPackage(name, subpaths, dest) {
  const src = packageDir(name);
  const pkg = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8'));
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  const common = {
    bundle: true, platform: 'node', target: 'node20', minify: true, legalComments: 'none', logLevel: 'error', metafile: true,
    external: ['@tensorflow/*', 'webgpu'],
  };
  const manifest = { name, version: pkg.version, type: 'module' };
  let meta;
  if (isEsmPackage(pkg)) {
    // Node ignores "module" (tfjs's ES build); "exports" with an import condition it follows.
    const main = !pkg.exports && pkg.module ? join(src, pkg.module) : fileURLToPath(import.meta.resolve(name));
    const entryPoints = { index: main };
    for (const sub of subpaths) entryPoints[sub] = join(src, /\.m?js$/.test(sub) ? sub : `${sub}.js`);
    // Subpath modules (the union package imports tfjs-core/dist/register_all_gradients) share one
    // copy of the package's internals with the main module: split chunks.
    ({ metafile: meta } = await build({
      ...common, entryPoints, format: 'esm', splitting: true, outdir: dest, outExtension: { '.js': '.mjs' }, chunkNames: 'chunks/[hash]',
      banner: { js: ESM_BANNER }, mainFields: ['module', 'main'],
    }));
    manifest.main = './index.mjs';
    manifest.exports = { '.': { import: './index.mjs', default: './index.mjs' }, './package.json': './package.json' };
    for (const sub of subpaths) manifest.exports[`./${sub}`] = `./${sub.replace(/\.m?js$/, '')}.mjs`;
  } else {
    if (subpaths.size) fail(`${name} is CommonJS; importing its subpaths ${[...subpaths]} is not supported by the bundler`);
    ({ metafile: meta } = await build({ ...common, entryPoints: [requireFromRoot.resolve(name)], format: 'cjs', outfile: join(dest, 'index.cjs') }));
    // import { Ajv } from 'ajv': Node finds a CommonJS module's names by scanning its source, which
    // a bundle hides; a small ES module re-exports them by name.
    const names = Object.keys(requireFromRoot(name)).filter((k) => IDENTIFIER.test(k) && k !== 'default');
    writeFileSync(join(dest, 'index.mjs'), `import m from './index.cjs';\nexport default m;\nexport const { ${names.join(', ')} } = m;\n`);
    manifest.main = './index.cjs';
    manifest.exports = { '.': { import: './index.mjs', require: './index.cjs', default: './index.cjs' }, './package.json': './package.json' };
  }
  writeFileSync(join(dest, 'package.json'), JSON.stringify(manifest, null, 1) + '\n');
  if (name === '@tensorflow/tfjs-backend-wasm') {
    // Found next to the module: ml/bert/backend.ts points setWasmPaths at dirname(require.resolve(...)).
    for (const f of readdirSync(join(src, 'dist'))) if (f.endsWith('.wasm')) copyFileSync(join(src, 'dist', f), join(dest, f));
  }
  return Object.values(meta.outputs).flatMap((o) => o.imports).filter((i) => i.external && i.path.startsWith('@tensorflow/')).map((i) => i.path);
}

/**
 * Bundles the runtime dependencies into app/node_modules, one module each. @tensorflow/* packages
 * stay separate (the union package and the backends import the core, which must be one
 * instance); they and the subpaths imported from them are found from the bundles' imports, and a
 * package is rebuilt when a later one asks for another of its subpaths.
 */
async function vendorDependencies(appDir, rootPkg) {
  const wanted = new Map([...Object.keys(rootPkg.dependencies ?? {}), '@tensorflow/tfjs-backend-webgpu'].map((n) => [n, new Set()]));
  const built = new Map(); // name → subpaths it was built with
  for (let changed = true; changed;) {
    changed = false;
    for (const [name, subs] of [...wanted]) {
      const key = [...subs].sort().join(',');
      if (built.get(name) === key) continue;
      built.set(name, key);
      changed = true;
      for (const spec of await vendorPackage(name, subs, join(appDir, 'node_modules', name))) {
        const [dep, sub] = splitSpecifier(spec);
        if (!wanted.has(dep)) wanted.set(dep, new Set());
        if (sub) wanted.get(dep).add(sub);
      }
    }
  }
  return Object.fromEntries([...built.keys()].sort().map((n) => [n, folderBytes(join(appDir, 'node_modules', n))]));
}

function folderBytes(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? folderBytes(p) : statSync(p).size;
  }
  return n;
}

const LAUNCHER = `#!/bin/sh
# fisherflow, portable bundle (scripts/bundle.mjs): runs the CLI with the Node.js, Vulkan loader and
# dependencies in this folder. The first run unpacks Node and Dawn (xz, or python3's lzma).
set -e
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)

unpack() {
  [ -f "$2" ] && return 0
  tmp="$2.partial.$$"
  if command -v xz >/dev/null 2>&1; then
    xz -dc -- "$1" > "$tmp" || { rm -f "$tmp"; echo "fisherflow: could not unpack $1" >&2; exit 2; }
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$tmp" \\
      || { rm -f "$tmp"; echo "fisherflow: could not unpack $1" >&2; exit 2; }
  else
    echo "fisherflow: the first run unpacks $1 and needs xz or python3 for it" >&2; exit 2
  fi
  chmod 755 "$tmp"
  mv -f "$tmp" "$2"
}
if [ ! -f "$here/runtime/node" ] || [ ! -f "$here/app/node_modules/webgpu/dist/linux-x64/dawn.node" ]; then
  if [ ! -w "$here/runtime" ]; then echo "fisherflow: $here is read-only; copy the bundle somewhere writable for its first run" >&2; exit 2; fi
  unpack "$here/runtime/node.xz" "$here/runtime/node"
  unpack "$here/app/node_modules/webgpu/dist/linux-x64/dawn.node.xz" "$here/app/node_modules/webgpu/dist/linux-x64/dawn.node"
fi

# Dawn loads the Vulkan loader (libvulkan.so.1) carried here; the loader finds the GPU driver through
# its ICD files. NVIDIA's often sit outside the standard folders (CUDA containers): use them unless
# VK_DRIVER_FILES / VK_ICD_FILENAMES already say where to look.
LD_LIBRARY_PATH="$here/runtime/lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
if [ -z "\${VK_DRIVER_FILES:-}\${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then VK_DRIVER_FILES="$icd"; export VK_DRIVER_FILES; break; fi
  done
fi
[ -d /usr/local/nvidia/lib64 ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:/usr/local/nvidia/lib64"

if [ "\${1:-}" = "--node" ]; then shift; exec "$here/runtime/node" "$@"; fi
exec "$here/runtime/node" "$here/app/bin/fisherflow.js" "$@"
`;

const README = `fisherflow, portable bundle for Linux x86-64
============================================

Runs without Node.js, npm or network. Copy this folder to the machine, then:

  ./fisherflow run PIPELINE.yaml [--gpus 0]     # any fisherflow command
  ./fisherflow --node SCRIPT.js                  # the bundled Node.js itself

The first run unpacks runtime/node.xz and Dawn's dawn.node.xz in place (needs xz or python3, and a
writable folder). GPU stages with \`backend: webgpu\` (or \`auto\` on a GPU) use Dawn on the Vulkan
driver: the NVIDIA driver's Vulkan ICD is found in the standard folders, or at
/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json, or wherever VK_DRIVER_FILES points.
Check with: ./fisherflow --node -e "import('webgpu').then(async (w) => { Object.assign(globalThis, w.globals); console.log((await w.create([]).requestAdapter())?.info) })"
(run from app/: cd app && ../fisherflow --node -e ...).

Contents: fisherflow's compiled code (app/dist), its dependencies bundled by esbuild
(app/node_modules), the demo pipelines and data (app/pipelines, app/data), Node.js, Dawn and the
Vulkan loader (runtime/lib, Debian's libvulkan1). BUNDLE.json says what was built from what.
`;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux' || process.arch !== 'x64') fail(`the bundle is for Linux x86-64 (Dawn's linux-x64 build); this is ${process.platform}-${process.arch}`);
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) fail('dist/ is not built: run npm run build (npm run bundle does)');
  if (spawnSync('sh', ['-c', 'command -v xz'], { stdio: 'ignore' }).status !== 0) fail('needs the xz command (apt-get install xz-utils)');
  const dawn = join(packageDir('webgpu'), 'dist', 'linux-x64', 'dawn.node');
  if (!existsSync(dawn)) fail(`${dawn} is missing (the optional dependency webgpu did not install)`);
  const vulkan = findVulkanLoader();
  const out = args.out;
  if (existsSync(out)) {
    if (!existsSync(join(out, MARKER)) && readdirSync(out).length > 0) fail(`${out} exists and is not a fisherflow bundle: not overwriting it`);
    rmSync(out, { recursive: true, force: true });
  }
  const started = performance.now();
  const app = join(out, 'app');
  mkdirSync(join(out, 'runtime', 'lib'), { recursive: true });
  mkdirSync(app, { recursive: true });
  writeFileSync(join(out, MARKER), '');

  const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const { name, version, description, license, type, engines, exports, types } = rootPkg;
  // `exports` too: the stages import their contract as 'fisherflow' (the package's self-reference).
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name, version, description, license, type, engines, exports, types, bin: rootPkg.bin }, null, 2) + '\n');
  for (const part of ['bin', 'schema', 'pipelines', 'data', join('dist', 'src'), join('dist', 'stages'), join('dist', 'ml'), join('dist', 'bench'), join('bench', 'gpu', 'run.sh')]) {
    if (existsSync(join(ROOT, part))) cpSync(join(ROOT, part), join(app, part), { recursive: true, filter: (p) => !p.endsWith('.lock') });
  }
  const addon = join(ROOT, 'native', 'blas', 'build', 'Release', 'fisherflow_blas.node');
  if (existsSync(addon)) {
    mkdirSync(dirname(join(app, relative(ROOT, addon))), { recursive: true });
    copyFileSync(addon, join(app, relative(ROOT, addon)));
  }
  const vendored = await vendorDependencies(app, rootPkg);

  const webgpuSrc = packageDir('webgpu');
  const webgpuDest = join(app, 'node_modules', 'webgpu');
  mkdirSync(join(webgpuDest, 'dist', 'linux-x64'), { recursive: true });
  for (const f of ['package.json', 'index.js', 'LICENSE.md']) if (existsSync(join(webgpuSrc, f))) copyFileSync(join(webgpuSrc, f), join(webgpuDest, f));
  await xzInto(dawn, join(webgpuDest, 'dist', 'linux-x64', 'dawn.node.xz'), args.xzLevel);
  await xzInto(process.execPath, join(out, 'runtime', 'node.xz'), args.xzLevel);
  copyFileSync(vulkan, join(out, 'runtime', 'lib', 'libvulkan.so.1'));

  writeFileSync(join(out, 'fisherflow'), LAUNCHER);
  chmodSync(join(out, 'fisherflow'), 0o755);
  writeFileSync(join(out, 'README.txt'), README);
  const total = folderBytes(out);
  const info = {
    fisherflow: version, node: process.version, dawn: JSON.parse(readFileSync(join(webgpuSrc, 'package.json'), 'utf8')).version,
    vulkan_loader: vulkan, xz_level: args.xzLevel, bytes: total,
    parts: {
      'runtime/node.xz': statSync(join(out, 'runtime', 'node.xz')).size,
      'dawn.node.xz': statSync(join(webgpuDest, 'dist', 'linux-x64', 'dawn.node.xz')).size,
      'runtime/lib': folderBytes(join(out, 'runtime', 'lib')),
      'app/dist': folderBytes(join(app, 'dist')),
      'app/node_modules (vendored)': Object.values(vendored).reduce((a, b) => a + b, 0),
    },
    vendored,
  };
  writeFileSync(join(out, 'BUNDLE.json'), JSON.stringify(info, null, 2) + '\n');
  const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  console.log(`bundle: ${out}: ${mib(total)} (limit ${mib(SIZE_LIMIT)}), xz level ${args.xzLevel}, ${((performance.now() - started) / 1000).toFixed(1)} s`);
  for (const [part, bytes] of Object.entries(info.parts)) console.log(`  ${part}: ${mib(bytes)}`);
  if (total >= SIZE_LIMIT) fail(`the bundle is ${mib(total)}, over the ${mib(SIZE_LIMIT)} limit`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
