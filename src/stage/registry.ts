// Discovers built-in stages: every `<root>/<name>/stage.js` under the package's compiled
// `stages/` folder, then under each folder of FISHERFLOW_STAGES_PATH (user stages, same contract).
// Nothing here knows a stage by name.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { StageModule } from './api.js';

/** Root of the installed package (the folder holding package.json). */
export const PACKAGE_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('fisherflow: cannot find its package.json');
    dir = up;
  }
  return dir;
})();

export const BUILTIN_STAGES_DIR = join(PACKAGE_ROOT, 'dist', 'stages');

export interface StageEntry {
  type: string;
  /** Absolute path of the compiled `stage.js`. */
  modulePath: string;
}

export class StageRegistry {
  private readonly entries = new Map<string, StageEntry>();
  private readonly modules = new Map<string, StageModule>();
  private readonly implHashes = new Map<string, string>();

  constructor(roots: string[]) {
    for (const root of roots) {
      if (!existsSync(root)) continue;
      for (const name of readdirSync(root).sort()) {
        const modulePath = join(root, name, 'stage.js');
        // The first root wins, so a user stage cannot silently shadow a built-in.
        if (existsSync(modulePath) && !this.entries.has(name)) this.entries.set(name, { type: name, modulePath });
      }
    }
  }

  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): StageRegistry {
    const extra = (env.FISHERFLOW_STAGES_PATH ?? '').split(':').filter(Boolean).map((p) => resolve(p));
    return new StageRegistry([BUILTIN_STAGES_DIR, ...extra]);
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

  async load(type: string): Promise<StageModule> {
    let m = this.modules.get(type);
    if (!m) {
      const e = this.entry(type);
      const mod = (await import(pathToFileURL(e.modulePath).href)) as { default?: StageModule };
      if (!mod.default || typeof mod.default.run !== 'function') {
        throw new Error(`${e.modulePath} does not default-export a stage module`);
      }
      m = mod.default;
      this.modules.set(type, m);
    }
    return m;
  }

  /**
   * The implementation version of a stage: a hash of its module and every local file it imports,
   * transitively. Editing a stage's code (or shared code it uses) changes its key.
   */
  implementationHash(type: string): string {
    let h = this.implHashes.get(type);
    if (!h) {
      h = hashModuleClosure(this.entry(type).modulePath);
      this.implHashes.set(type, h);
    }
    return h;
  }
}

const IMPORT_RE = /(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|import\s*['"](\.{1,2}\/[^'"]+)['"]/g;

export function hashModuleClosure(entry: string): string {
  const seen = new Set<string>();
  const queue = [resolve(entry)];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[1] ?? m[2] ?? m[3];
      let target = resolve(dirname(file), spec);
      if (existsSync(target) && statSync(target).isDirectory()) target = join(target, 'index.js');
      queue.push(target);
    }
  }
  const hash = createHash('sha256');
  for (const file of [...seen].sort()) {
    // Paths relative to the package keep the hash identical across install locations.
    const rel = file.startsWith(PACKAGE_ROOT) ? file.slice(PACKAGE_ROOT.length) : file;
    hash.update(rel.replace(/\\/g, '/'));
    hash.update('\0');
    try {
      hash.update(readFileSync(file));
    } catch {
      hash.update('missing');
    }
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}
