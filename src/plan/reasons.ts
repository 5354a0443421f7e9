// Why a stage will rerun, as values: the planner produces them, and the CLI text, `--json`
// output, `diff` and the report all format or read the same objects (one formatter below).

export type ChangeKind = 'added' | 'removed' | 'changed';

export type StaleReason =
  /** No lock entry: the stage has not run in this workspace. */
  | { kind: 'never-ran' }
  /** `--force`. */
  | { kind: 'forced' }
  /** An upstream stage is stale, so this stage's inputs are not known yet. */
  | { kind: 'upstream'; stage: string }
  | { kind: 'type'; from: string; to: string }
  /** A built-in stage's code version changed (its module or a file it imports). */
  | { kind: 'code'; type: string; from: string; to: string }
  /** A param the stage reads changed; `from`/`to` absent means unset. */
  | { kind: 'param'; name: string; from?: unknown; to?: unknown }
  /** A param that comes from a params file (params.yaml, `params_files:`) changed. */
  | { kind: 'params-file'; file: string; name: string; from?: unknown; to?: unknown }
  /** `always_run: true`. */
  | { kind: 'always-run' }
  /** `frozen: true` on a stage that would otherwise rerun for `reasons`: it keeps its locked result. */
  | { kind: 'frozen'; reasons: StaleReason[] }
  /** A `cache: false` output is missing from the workspace or differs from what the stage wrote. */
  | { kind: 'uncached-output'; path: string; change: 'missing' | 'changed' }
  | { kind: 'command'; from: string; to: string }
  /** A `with:` input changed (dotted name). */
  | { kind: 'input'; name: string; from?: unknown; to?: unknown }
  /** A file or folder the stage reads (deps, path inputs). */
  | { kind: 'dep'; path: string; change: ChangeKind }
  /** An upstream artifact the stage reads (`stage.outputs.key`). */
  | { kind: 'upstream-output'; output: string; change: ChangeKind }
  | { kind: 'env'; name: string; from?: string; to?: string }
  /** The key differs for a reason none of the above names (e.g. declared outputs). */
  | { kind: 'definition' }
  /** The lock file names this key but its result is not in the store. */
  | { kind: 'result-missing' }
  /** The stored result no longer matches its hash. */
  | { kind: 'result-damaged'; detail: string }
  /** A command stage's workspace output is gone; its result is in the store (run copies it back). */
  | { kind: 'output-missing'; output: string; path: string }
  /** A workspace output holds what fisherflow wrote for another run (e.g. before a `git checkout`); run copies this one's back. */
  | { kind: 'output-outdated'; output: string; path: string }
  /** A workspace output fisherflow did not write (edited, or made by another tool): run stops rather than overwrite it, unless --force. */
  | { kind: 'output-modified'; output: string; path: string };

function value(v: unknown): string {
  if (v === undefined) return '(unset)';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** One line of text for a reason, as `status` and `run --dry-run` print it. */
export function formatReason(r: StaleReason): string {
  switch (r.kind) {
    case 'never-ran':
      return 'never ran';
    case 'forced':
      return 'forced (--force)';
    case 'upstream':
      return `upstream stage '${r.stage}' will rerun`;
    case 'type':
      return `stage type changed from ${r.from} to ${r.to}`;
    case 'code':
      return `stage code changed (${r.type} ${r.from.slice(0, 8)} → ${r.to.slice(0, 8)})`;
    case 'param':
      return `param ${r.name} changed from ${value(r.from)} to ${value(r.to)}`;
    case 'params-file':
      return `param ${r.name} (${r.file}) changed from ${value(r.from)} to ${value(r.to)}`;
    case 'always-run':
      return 'always_run: runs every time';
    case 'frozen':
      return r.reasons.length ? `frozen: keeps its locked result (would otherwise rerun: ${r.reasons.map(formatReason).join('; ')})` : 'frozen: keeps its locked result';
    case 'uncached-output':
      return `output ${r.path} (cache: false) is ${r.change === 'missing' ? 'missing from the workspace' : 'not what the stage wrote'}`;
    case 'command':
      return `command changed from '${r.from}' to '${r.to}'`;
    case 'input':
      return `input ${r.name} changed from ${value(r.from)} to ${value(r.to)}`;
    case 'dep':
      return r.change === 'added' ? `new dep ${r.path}` : r.change === 'removed' ? `dep ${r.path} removed` : `dep ${r.path} changed`;
    case 'upstream-output':
      return r.change === 'added' ? `now reads ${r.output}` : r.change === 'removed' ? `no longer reads ${r.output}` : `upstream output ${r.output} changed`;
    case 'env':
      return `env ${r.name} changed from ${value(r.from)} to ${value(r.to)}`;
    case 'definition':
      return 'stage definition changed';
    case 'result-missing':
      return 'its result is missing from the store';
    case 'result-damaged':
      return `${r.detail}; it will be recomputed`;
    case 'output-missing':
      return `workspace output ${r.path} is missing; run copies it back from the store`;
    case 'output-outdated':
      return `workspace output ${r.path} is from another run (e.g. before a git checkout); run copies this run's result back from the store`;
    case 'output-modified':
      return `workspace output ${r.path} was changed, or not written by fisherflow; run will not overwrite it (--force replaces it)`;
  }
}

export function formatReasons(reasons: readonly StaleReason[]): string[] {
  return reasons.map(formatReason);
}

/** A reason as `status --json` and `diff --json` print it: the typed fields plus its text. */
export type ReasonJson = StaleReason & { text: string };

export function reasonJson(r: StaleReason): ReasonJson {
  if (r.kind === 'frozen') return { ...r, reasons: r.reasons.map(reasonJson), text: formatReason(r) };
  return { ...r, text: formatReason(r) };
}

/** What `run` will do about a stale stage, when a remote was consulted (`status` shows it). */
export type StaleAction =
  /** The remote holds the result of the stage's key: `run` fetches it instead of running. */
  | { kind: 'fetch'; remote: string }
  /** Nobody has this result: `run` computes it. */
  | { kind: 'run' };

export function formatAction(a: StaleAction): string {
  return a.kind === 'fetch' ? `available on remote '${a.remote}'` : 'will run';
}

/** An action as `status --json` prints it (`action`): the typed fields plus its text. */
export type ActionJson = StaleAction & { text: string };

export function actionJson(a: StaleAction): ActionJson {
  return { ...a, text: formatAction(a) };
}
