// Discovers stages: every `<root>/<name>/stage.js` under the package's compiled `stages/` folder,
// then under each folder of FISHERFLOW_STAGES_PATH, then in the stage packages a pipeline names
// (`plugins:`, resolved by plugins.ts). Nothing here knows a stage by name.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { StageModule } from './api.js';
import { UserError, UserErrors } from '../errors.js';
import { PACKAGE_ROOT } from '../package-root.js';
import { importStageModule } from './load-module.js';
import { pluginCodeVersion, type StagePlugin } from './plugins.js';

export { PACKAGE_ROOT };

export const BUILTIN_STAGES_DIR = join(PACKAGE_ROOT, 'dist', 'stages');

/** Where a stage type comes from (`fisherflow stages` shows it). */
export type StageSource =
  | { kind: 'builtin' }
  /** A folder of FISHERFLOW_STAGES_PATH. */
  | { kind: 'stages-path'; root: string }
  /** A stage package named in the pipeline's `plugins:`. */
  | { kind: 'plugin'; plugin: StagePlugin };

export interface StageEntry {
  type: string;
  /** Absolute path of the compiled `stage.js`. */
  modulePath: string;
  source: StageSource;
}

/** The stage folders (`NAME/stage.js`) of a folder, by type. */
export function stageFolders(root: string): Map<string, string> {
  const found = new Map<string, string>();
  if (!existsSync(root)) return found;
  for (const name of readdirSync(root).sort()) {
    const modulePath = join(root, name, 'stage.js');
    if (existsSync(modulePath)) found.set(name, modulePath);
  }
  return found;
}

/** A source in words, for listings and messages. */
export function describeSource(source: StageSource): string {
  switch (source.kind) {
    case 'builtin':
      return 'built-in';
    case 'stages-path':
      return `FISHERFLOW_STAGES_PATH ${source.root}`;
    case 'plugin': {
      const p = source.plugin;
      const named = p.name && p.name !== p.spec && p.name !== basename(p.spec) ? ` (${p.name})` : '';
      return `plugin ${p.spec}${named}${p.version ? ` ${p.version}` : ''}`;
    }
  }
}

export class StageRegistry {
  private readonly entries = new Map<string, StageEntry>();
  private readonly modules = new Map<string, StageModule>();
  private readonly implHashes = new Map<string, string>();
  private readonly plugins: StagePlugin[] = [];
  /** Files the code versions of plugin stages read (the fast path watches them). */
  private readonly pluginFiles = new Set<string>();

  constructor(roots: string[]) {
    for (const root of roots) {
      const source: StageSource = root === BUILTIN_STAGES_DIR ? { kind: 'builtin' } : { kind: 'stages-path', root };
      for (const [name, modulePath] of stageFolders(root)) {
        // The first root wins, so a user stage cannot silently shadow a built-in.
        if (!this.entries.has(name)) this.entries.set(name, { type: name, modulePath, source });
      }
    }
  }

  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): StageRegistry {
    const extra = (env.FISHERFLOW_STAGES_PATH ?? '').split(':').filter(Boolean).map((p) => resolve(p));
    return new StageRegistry([BUILTIN_STAGES_DIR, ...extra]);
  }

  /**
   * Add the stages of the pipeline's stage packages. A type defined in two places (two packages,
   * or a package and a built-in) is an error at the package's entry in `plugins:`.
   */
  addPlugins(plugins: StagePlugin[]): void {
    const errors: UserError[] = [];
    for (const plugin of plugins) {
      // The same package listed twice (or loaded again for another pipeline): nothing new.
      if (this.plugins.some((p) => p.dir === plugin.dir)) continue;
      this.plugins.push(plugin);
      for (const [name, modulePath] of stageFolders(plugin.stagesDir)) {
        const existing = this.entries.get(name);
        if (existing) {
          errors.push(new UserError(`plugin '${plugin.spec}' defines stage type '${name}', which ${existing.source.kind === 'builtin' ? 'is a built-in stage type' : `${describeSource(existing.source)} defines too`}; a type must come from one place (rename one of them: its folder and its \`type\`)`, plugin.location));
          continue;
        }
        this.entries.set(name, { type: name, modulePath, source: { kind: 'plugin', plugin } });
      }
    }
    if (errors.length) throw new UserErrors(errors);
  }

  /** Paths whose stat decides the plugin stages' code versions and resolution (for the fast path). */
  pluginWatchPaths(): string[] {
    return [...new Set([...this.plugins.flatMap((p) => p.watch), ...this.pluginFiles])];
  }

  types(): string[] {
    return [...this.entries.keys()];
  }

  has(type: string): boolean {
    return this.entries.has(type);
  }

  entry(type: string): StageEntry {
    const e = this.entries.get(type);
    if (!e) throw new Error(`unknown stage type ${type}`);
    return e;
  }

  /** The stage's module, checked (contract shape, stage API version; see load-module.ts). */
  async load(type: string): Promise<StageModule> {
    let m = this.modules.get(type);
    if (!m) {
      const e = this.entry(type);
      m = await importStageModule(e.modulePath, type);
      this.modules.set(type, m);
    }
    return m;
  }

  /**
   * The implementation version of a stage: a hash of its module and every local file it imports,
   * transitively; for a package's stage also its package.json and the installed versions of the
   * packages it imports (see plugins.ts). Editing a stage's code (or shared code it uses) changes
   * its key.
   */
  implementationHash(type: string): string {
    let h = this.implHashes.get(type);
    if (!h) {
      const e = this.entry(type);
      if (e.source.kind === 'plugin') {
        const v = pluginCodeVersion(e.modulePath, e.source.plugin);
        for (const f of v.files) this.pluginFiles.add(f);
        h = v.hash;
      } else {
        h = hashModuleClosure(e.modulePath);
      }
      this.implHashes.set(type, h);
    }
    return h;
  }
}

/** Specifiers of import statements and dynamic imports: `./x.js`, `../y/index.js`, `pkg/sub`. */
const IMPORT_RE = /(?:import|export)\s[^'"]*?from\s*['"]([^'"\s]+)['"]|import\s*\(\s*['"]([^'"\s]+)['"]\s*\)|import\s*['"]([^'"\s]+)['"]/g;

/**
 * Files that are not JS imports but change what a module computes (a native addon's C source): a
 * module lists them, relative to its package root, as `export const CODE_VERSION_FILES = [...]`.
 */
const CODE_FILES_RE = /\bCODE_VERSION_FILES\s*=\s*\[([^\]]*)\]/g;

/** The package root of a module: the nearest folder above it with a package.json. */
function packageRootOf(file: string): string | undefined {
  for (let dir = dirname(file); ; ) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * A module and every local file it imports (relative specifiers), transitively, and the files
 * they declare in CODE_VERSION_FILES; sorted. Other specifiers (packages, `node:` modules) are
 * not followed; `onPackageImport` sees each of them.
 */
export function moduleClosure(entry: string, onPackageImport?: (specifier: string, file: string) => void): string[] {
  const seen = new Set<string>();
  const queue = [resolve(entry)];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!/\.[cm]?js$/.test(file)) continue;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (!spec.startsWith('./') && !spec.startsWith('../')) {
        onPackageImport?.(spec, file);
        continue;
      }
      let target = resolve(dirname(file), spec);
      if (existsSync(target) && statSync(target).isDirectory()) target = join(target, 'index.js');
      queue.push(target);
    }
    for (const m of text.matchAll(CODE_FILES_RE)) {
      const root = packageRootOf(file);
      if (!root) continue;
      for (const q of m[1].matchAll(/['"]([^'"]+)['"]/g)) queue.push(resolve(root, q[1]));
    }
  }
  return [...seen].sort();
}

export function hashModuleClosure(entry: string): string {
  return hashFiles(moduleClosure(entry), PACKAGE_ROOT).digest('hex').slice(0, 16);
}

/** A hash of files' paths (relative to `root`) and contents, to be finished or extended. */
export function hashFiles(files: string[], root: string): ReturnType<typeof createHash> {
  const hash = createHash('sha256');
  for (const file of files) {
    // Paths relative to the package keep the hash identical across install locations.
    const rel = relative(root, file);
    hash.update(rel.replace(/\\/g, '/'));
    hash.update('\0');
    try {
      hash.update(readFileSync(file));
    } catch {
      hash.update('missing');
    }
    hash.update('\0');
  }
  return hash;
}
