// The stage contract: the public API between the engine and every stage, built-in or a user's
// (`import { defineStage } from 'fisherflow'`, also `fisherflow/stage`). The built-in stages import
// exactly this, through the package name, so it is proven by them.
//
// A stage is a folder `NAME/` whose `stage.js` default-exports a `StageModule` (usually written as
// `export default defineStage({...})`). The engine discovers stages by scanning for `stage.js`
// files; nothing in `src/` knows a stage by name. The engine hands a stage its resolved inputs and
// an empty output folder; the stage never hashes, caches, locks or decides whether it runs.
//
// This file has no imports: stage modules load it while `status` plans, which must stay fast.

/**
 * The version of this contract. Every stage states the version it was written for
 * (`stageApiVersion`), and the engine refuses to load a stage written for another one, with a
 * message saying which side to update. Raised only by changes that break existing stages.
 */
export const STAGE_API_VERSION = 1;

/** A JSON Schema object (draft 2020-12 subset understood by ajv). */
export type JsonSchema = Record<string, unknown>;

/**
 * Schema annotation for `with:` inputs that name a file or folder. The engine resolves a relative
 * path against the pipeline file's folder, checks that it exists, and puts its content hash into
 * the stage key. Values that come from `${{ stages.X.outputs.Y }}` are store paths and are hashed
 * through the upstream record instead. Use as `{ type: 'string', [PATH_KEYWORD]: true }`.
 */
export const PATH_KEYWORD = 'x-fisherflow-path';

/**
 * Schema annotation beside PATH_KEYWORD for a path input that may also be a Hugging Face hub id
 * (`bert-base-cased`, `org/name`): when the value is not a local path, the engine resolves it to
 * the snapshot in the local Hugging Face cache (offline; a miss is an error that says how to
 * download it) and hashes the snapshot's content. `'tokenizer'` lets the tokenizer files vendored
 * with fisherflow stand in for `bert-base-cased`. Use as
 * `{ type: 'string', [PATH_KEYWORD]: true, [HUB_KEYWORD]: 'model' }`.
 */
export const HUB_KEYWORD = 'x-fisherflow-hub';

/** One declared output of a stage: a file or a folder inside the stage's output folder. */
export interface OutputSpec {
  /** Path relative to the output folder. */
  path: string;
  kind: 'file' | 'dir';
  /** A metrics file (JSON or YAML) shown by `fisherflow metrics show` and compared by `diff`. */
  metrics?: boolean;
  description?: string;
}

export interface ResourceRequest {
  /** CPU slots the stage occupies (default 1). */
  cpu?: number;
  /** GPUs: 0 (default), N required, or 'optional' (one if a device is free, otherwise CPU). */
  gpu?: number | 'optional';
  /** Declared GPU memory per device, e.g. "20GB"; lets small stages share a device. */
  gpu_memory?: string;
  /** Host memory, e.g. "16GB" or "512MiB" (a cluster executor asks for it: Slurm's --mem). */
  memory?: string;
  /** Time limit, e.g. "2h", "90min", "1-12:00:00" (a cluster executor asks for it: Slurm's --time). */
  time?: string;
}

/** The device a stage was given. `gpus` is empty for a CPU run. */
export interface DeviceAssignment {
  gpus: string[];
}

/** What the engine knows of the pipeline, for stages that declare `wantsPipeline` (reports). */
export interface PipelineSnapshot {
  file: string;
  params: Record<string, unknown>;
  stages: Array<{
    name: string;
    type: string;
    needs: string[];
    key: string | null;
    status?: string;
    outputs?: Record<string, string>;
  }>;
  versions: Record<string, string>;
}

export interface StageRunContext<I = Record<string, unknown>> {
  /** Concrete stage name, e.g. `fim@tic`. */
  stage: string;
  /** `with:` after templating and validation; path inputs are absolute. */
  inputs: I;
  /** Empty folder; every declared output must exist in it when `run` resolves. */
  outDir: string;
  /**
   * Scratch folder that survives an interrupted attempt with the same stage key (for resume,
   * e.g. per-epoch training checkpoints). Deleted by the engine once the result is committed.
   */
  workDir: string;
  /** A line for the stage's log file (and the live display). */
  log(message: string): void;
  /** Progress of the stage's main loop, e.g. examples done of total. */
  progress(done: number, total: number, note?: string): void;
  /** Aborted on Ctrl-C or when the run is cancelled; long loops should check it. */
  signal: AbortSignal;
  device: DeviceAssignment;
  /** Present only when the module sets `wantsPipeline`. */
  pipeline?: PipelineSnapshot;
}

export interface StageModule<I = any> {
  /**
   * The stage API version the stage was written for: `STAGE_API_VERSION` of the fisherflow it was
   * type-checked against (a literal, so an upgrade that changes the contract fails to type-check
   * and a stale build is refused at load time rather than misbehaving).
   */
  stageApiVersion: typeof STAGE_API_VERSION;
  /** The name used in `uses:`; equal to the stage's folder name. */
  type: string;
  /** One line for `fisherflow stages` and the generated reference. */
  description: string;
  /** JSON Schema of `with:`. Use PATH_KEYWORD on inputs that name files or folders. */
  inputSchema: JsonSchema;
  /** Declared outputs, as a function of the (validated) inputs. Keys are the names used in templates. */
  outputs(inputs: I): Record<string, OutputSpec>;
  /** Default resources; the pipeline's `resources:` overrides them. */
  resources?: ResourceRequest;
  /** Run in a child process (compute stages), so device env vars apply and crashes are contained. */
  worker?: boolean;
  /** Receive `ctx.pipeline` (the report stage). */
  wantsPipeline?: boolean;
  /**
   * Extra semantic checks after schema validation (e.g. "take must be positive"); return messages
   * naming the input (`with.take: ...`). The engine reports them with the YAML location.
   */
  check?(inputs: I): string[];
  run(ctx: StageRunContext<I>): Promise<void>;
}

/**
 * Declares a stage: returns the module unchanged, typed, so `run(ctx)` knows its inputs
 * (`defineStage<{ data: string }>({...})`). `export default defineStage({...})` from `stage.ts`.
 */
export function defineStage<I = Record<string, unknown>>(stage: StageModule<I>): StageModule<I> {
  return stage;
}

/** Error a stage throws for bad user input: shown without a stack trace. */
export class StageInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StageInputError';
  }
}
