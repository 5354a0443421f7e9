// Stage packages: a pipeline's `plugins: [fisherflow-stage-foo, ./my-stages]`. Each entry is a
// package name, found in `node_modules` of the pipeline's folder or a folder above it (as Node
// resolves imports), or a path to a folder. A package's package.json names its folder of stages
// (`"fisherflow": { "stages": "dist/stages" }`, one `NAME/stage.js` folder per type, as for the
// built-ins); a folder without package.json is itself a folder of stages.
//
// The code version of a package's stage (its place in the stage key) covers what it runs: its
// module and every local file it imports, as for the built-ins, plus the package's package.json and
// the installed version of every package it imports (so upgrading a dependency reruns it).
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { UserError, type SourceLocation } from '../errors.js';
import { hashFiles, moduleClosure, stageFolders } from './registry.js';

export interface StagePlugin {
  /** The entry as written in `plugins:`. */
  spec: string;
  /** The package's folder (real path). */
  dir: string;
  /** Its folder of stage folders. */
  stagesDir: string;
  /** From package.json, when the plugin has one. */
  name?: string;
  version?: string;
  /** Where the entry is written, for errors. */
  location?: SourceLocation;
  /** Paths whose stat decides where `spec` resolves and what it holds (watched by the fast path). */
  watch: string[];
}

/** npm's rules for a package name, scoped or not. */
const PACKAGE_NAME = /^(?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i;

const isPathSpec = (spec: string) => spec.startsWith('./') || spec.startsWith('../') || spec === '.' || spec === '..' || isAbsolute(spec);

/** Resolve one `plugins:` entry from the pipeline's folder. Errors name the entry's location. */
export function resolvePlugin(spec: string, fromDir: string, location?: SourceLocation): StagePlugin {
  const fail = (message: string, hint?: string) => new UserError(`plugin '${spec}': ${message}`, location, hint);
  const watch: string[] = [];
  let dir: string;
  if (isPathSpec(spec)) {
    dir = resolve(fromDir, spec);
    if (!existsSync(dir)) throw fail(`no such folder ${dir}`);
    if (!statSync(dir).isDirectory()) throw fail(`${dir} is not a folder`, 'name a stage package folder (with package.json) or a folder of stage folders (NAME/stage.js)');
  } else if (PACKAGE_NAME.test(spec)) {
    let found: string | undefined;
    for (let d = resolve(fromDir); ; d = dirname(d)) {
      const modules = join(d, 'node_modules');
      const candidate = join(modules, spec);
      if (existsSync(join(candidate, 'package.json'))) {
        found = candidate;
        watch.push(candidate);
        break;
      }
      // A copy installed here later would win: watch the folder where it would appear.
      const parent = dirname(candidate); // node_modules, or node_modules/@scope
      watch.push(existsSync(parent) ? parent : existsSync(modules) ? modules : d);
      if (dirname(d) === d) break;
    }
    if (!found) throw fail(`not installed: no node_modules/${spec} in ${fromDir} or a folder above it`, `npm install ${spec} (or name a folder: plugins: [./path/to/stages])`);
    dir = found;
  } else {
    throw fail('expected a package name (fisherflow-stage-foo, @lab/stages) or a path to a folder (./my-stages)');
  }
  dir = realpathSync(dir);
  watch.push(dir);

  const pkgFile = join(dir, 'package.json');
  let stagesDir = dir;
  let name: string | undefined;
  let version: string | undefined;
  if (existsSync(pkgFile)) {
    watch.push(pkgFile);
    let pkg: { name?: unknown; version?: unknown; fisherflow?: { stages?: unknown } };
    try {
      pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
    } catch (e) {
      throw fail(`${pkgFile} is not valid JSON: ${(e as Error).message}`);
    }
    name = typeof pkg.name === 'string' ? pkg.name : undefined;
    version = typeof pkg.version === 'string' ? pkg.version : undefined;
    const stages = pkg.fisherflow?.stages;
    if (typeof stages !== 'string') {
      throw fail(`${pkgFile} does not name its folder of stages`, 'a stage package declares "fisherflow": { "stages": "dist/stages" } in its package.json (fisherflow init --stage NAME writes one)');
    }
    stagesDir = resolve(dir, stages);
    if (!existsSync(stagesDir)) {
      const hint = existsSync(join(dir, 'tsconfig.json')) ? 'build the package first (npm run build)' : undefined;
      throw fail(`its folder of stages ${relative(process.cwd(), stagesDir) || stagesDir} does not exist`, hint);
    }
  }
  watch.push(stagesDir);
  if (stageFolders(stagesDir).size === 0) throw fail(`no stages in ${stagesDir} (expected one folder per stage type, NAME/stage.js)`);
  return { spec, dir, stagesDir, name, version, location, watch };
}

/** Resolve a pipeline's `plugins:` list; `locate(i)` gives the location of entry i. */
export function resolvePlugins(specs: string[], fromDir: string, locate: (index: number) => SourceLocation): StagePlugin[] {
  return specs.map((spec, i) => resolvePlugin(spec, fromDir, locate(i)));
}

/** The package a bare specifier names: `@a/b/c` → `@a/b`, `x/y` → `x`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The installed version of package `name` as seen from `fromDir` (Node's node_modules lookup). */
function installedVersion(name: string, fromDir: string): { version: string; packageJson?: string } {
  for (let d = fromDir; ; d = dirname(d)) {
    const pj = join(d, 'node_modules', name, 'package.json');
    if (existsSync(pj)) {
      try {
        return { version: String((JSON.parse(readFileSync(pj, 'utf8')) as { version?: unknown }).version ?? '?'), packageJson: pj };
      } catch {
        return { version: '?', packageJson: pj };
      }
    }
    if (dirname(d) === d) return { version: '(not installed)' };
  }
}

/**
 * The code version of a package's stage and the files it read: the module's closure of local
 * imports, the package's package.json, and `name@version` of each package the closure imports
 * (except fisherflow itself, whose contract is versioned by `stageApiVersion`).
 */
export function pluginCodeVersion(modulePath: string, plugin: StagePlugin): { hash: string; files: string[] } {
  const deps = new Map<string, string>();
  const depFiles: string[] = [];
  const closure = moduleClosure(modulePath, (specifier, file) => {
    if (isBuiltin(specifier)) return;
    const name = packageOf(specifier);
    if (name === 'fisherflow' || name === plugin.name || deps.has(name)) return;
    const v = installedVersion(name, dirname(file));
    deps.set(name, v.version);
    if (v.packageJson) depFiles.push(v.packageJson);
  });
  const pkgFile = join(plugin.dir, 'package.json');
  const files = existsSync(pkgFile) ? [...closure, pkgFile] : closure;
  const hash = hashFiles(files, plugin.dir);
  for (const [name, version] of [...deps].sort(([a], [b]) => a.localeCompare(b))) hash.update(`${name}@${version}\0`);
  return { hash: hash.digest('hex').slice(0, 16), files: [...files, ...depFiles] };
}
