// Imports a stage file and checks what it default-exports before the engine trusts it: the shape
// of the contract and the stage API version it was written for. Every loader (the registry while
// planning, the worker and `exec-stage` while running) goes through here, so a stale or foreign
// module is a clear error naming its file, never a TypeError deep in the engine.
import { isAbsolute, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UserError } from '../errors.js';
import { STAGE_API_VERSION, type StageModule } from './api.js';
import { packageVersion } from '../package-root.js';

/** A stage file that cannot be used: exit 2, nothing ran. */
export class StageLoadError extends UserError {}

/** A path as a user reads it: relative to the current folder when inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** Where the README explains the contract, for the messages below. */
const GUIDE = "see \"Writing your own stage\" in fisherflow's README";

/**
 * The module's default export as a `StageModule`, or a `StageLoadError` naming `modulePath`.
 * `expectedType`: the type the module was found under (its folder name), which it must declare.
 */
export function checkStageModule(exported: unknown, modulePath: string, expectedType?: string): StageModule {
  modulePath = shown(modulePath);
  const m = exported as Partial<StageModule> | undefined;
  if (!m || typeof m !== 'object') {
    throw new StageLoadError(`${modulePath} does not default-export a stage (write \`export default defineStage({...})\`; ${GUIDE})`);
  }
  const version = (m as { stageApiVersion?: unknown }).stageApiVersion;
  if (version !== STAGE_API_VERSION) {
    const engine = `this fisherflow (${packageVersion()}) runs stages written for stage API ${STAGE_API_VERSION}`;
    if (version === undefined) {
      throw new StageLoadError(`${modulePath} declares no stageApiVersion; ${engine}: add \`stageApiVersion: ${STAGE_API_VERSION}\` to the stage and check it against the contract (${GUIDE})`);
    }
    const newer = typeof version === 'number' && version > STAGE_API_VERSION;
    throw new StageLoadError(
      `${modulePath} was written for stage API ${JSON.stringify(version)}, but ${engine}: ${newer ? 'upgrade fisherflow' : `update the stage to stage API ${STAGE_API_VERSION} (its type errors against the installed fisherflow show what changed)`}`,
    );
  }
  const problems: string[] = [];
  if (typeof m.type !== 'string' || m.type === '') problems.push('`type` must be a non-empty string');
  else if (expectedType !== undefined && m.type !== expectedType) problems.push(`\`type\` is '${m.type}' but its folder is '${expectedType}'; they must be equal`);
  if (typeof m.description !== 'string') problems.push('`description` must be a string');
  if (!m.inputSchema || typeof m.inputSchema !== 'object') problems.push('`inputSchema` must be a JSON Schema object');
  if (typeof m.outputs !== 'function') problems.push('`outputs` must be a function of the inputs');
  if (typeof m.run !== 'function') problems.push('`run` must be a function');
  if (problems.length) throw new StageLoadError(`${modulePath} is not a valid stage: ${problems.join('; ')}`);
  return m as StageModule;
}

/** Import a stage file (`stage.js`) and check it; import failures name the file too. */
export async function importStageModule(modulePath: string, expectedType?: string): Promise<StageModule> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(modulePath).href)) as { default?: unknown };
  } catch (e) {
    // A missing package, a syntax error or a throw at the top level: the stage author's to fix.
    const message = (e as Error)?.message ?? String(e);
    const hint = /Cannot find package 'fisherflow'/.test(message) ? "a stage imports fisherflow from the project: install it there (npm install --save-dev …/fisherflow-VERSION.tgz, see fisherflow's README, 'Install in your own project')" : undefined;
    throw new StageLoadError(`cannot load ${shown(modulePath)}: ${message}`, undefined, hint);
  }
  return checkStageModule(mod.default, modulePath, expectedType);
}
