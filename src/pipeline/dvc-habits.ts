// What DVC users write by habit in a fisherflow pipeline, and what fisherflow says about it:
// DVC's stage and top-level keys that fisherflow spells otherwise (or lacks), and DVC's `${x}`
// interpolation inside a command, which bash would silently expand to an empty string.

export interface KeyHint {
  message: string;
  hint?: string;
}

const IMPORT_HINT = "'fisherflow import dvc' converts a whole dvc.yaml";

/** DVC stage keys: what fisherflow calls them, or why there is no such key. */
export const DVC_STAGE_KEYS: Record<string, KeyHint> = {
  cmd: { message: "unknown key 'cmd' (did you mean 'run'?)", hint: `a command stage is \`run: COMMAND\`; ${IMPORT_HINT}` },
  do: { message: "unknown key 'do': fisherflow's foreach takes the stage body directly", hint: 'move the keys under `do:` up, beside `foreach:`' },
  always_changed: { message: "unknown key 'always_changed' (did you mean 'always_run'?)", hint: '`always_run: true` runs the stage every time' },
  desc: { message: "unknown key 'desc' (did you mean 'description'?)" },
  wdir: { message: "unknown key 'wdir': commands run in the pipeline file's folder", hint: 'start the command with `cd DIR &&`, and give deps and outs relative to the pipeline' },
  meta: { message: "unknown key 'meta': fisherflow stages carry no free-form metadata", hint: 'use `description:`, or a YAML comment' },
};

/** DVC top-level keys. */
export const DVC_TOP_KEYS: Record<string, KeyHint> = {
  metrics: { message: "unknown key 'metrics' at the top level: metrics belong to the stage that writes them", hint: "list the file under that stage's `metrics:`" },
  plots: { message: "unknown key 'plots' at the top level: plots belong to the stage that writes them", hint: "list the file under that stage's `plots:` ({file, x, y, template})" },
  artifacts: { message: "unknown key 'artifacts': fisherflow has no model registry", hint: 'a YAML comment can keep the description' },
  datasets: { message: "unknown key 'datasets': fisherflow has no dataset registry", hint: 'read data with a `deps:` path or the `load` stage' },
};

/** A `${name}` (DVC interpolation) in a command; `name` may be dotted (`item.split`). */
const SHELL_VAR_RE = /\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\}/g;

/**
 * The `${name}` in a command that look like DVC interpolation of a fisherflow value: `meaning`
 * returns the template to write instead (`${{ params.lr }}`), or undefined for a plain shell
 * variable. Each name once, in order.
 */
export function dvcInterpolations(command: string, meaning: (name: string) => string | undefined): Array<{ text: string; instead: string }> {
  const out: Array<{ text: string; instead: string }> = [];
  const seen = new Set<string>();
  for (const m of command.matchAll(SHELL_VAR_RE)) {
    if (seen.has(m[1])) continue;
    seen.add(m[1]);
    const instead = meaning(m[1]);
    if (instead) out.push({ text: m[0], instead });
  }
  return out;
}
