// Issue 19, item 5: `fisherflow import dvc` on two real public pipelines (read from
// ../shared/external/dvc/, copied into a temp folder): each converts, runs with stand-in commands
// and no hand edits, reruns all cached, and a param change reruns exactly its dependents. Plus the
// smaller rules: foreach/do, wdir, interpolation, `| raw`, never overwriting without --force.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertDvc } from '../../src/import/dvc.js';
import { REPO_ROOT, cli, ran, runJson } from '../helpers/cli.js';
import { removeTemporaryFolders, tempDir } from '../experiments/git-repo.js';

after(removeTemporaryFolders);

const EXTERNAL = join(REPO_ROOT, '..', 'shared', 'external', 'dvc');

/** A temp copy of a public pipeline (dvc.yaml, params.yaml) with extra files and a bin/ of stand-ins on PATH. */
function copyOf(name: string, files: Record<string, string>, bin: Record<string, string>): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = tempDir({});
  for (const f of ['dvc.yaml', 'params.yaml']) copyFileSync(join(EXTERNAL, name, f), join(dir, f));
  for (const [f, text] of Object.entries({ ...files, ...Object.fromEntries(Object.entries(bin).map(([k, v]) => [`bin/${k}`, v])) })) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), text);
    if (f.startsWith('bin/')) chmodSync(join(dir, f), 0o755);
  }
  return { dir, env: { PATH: `${join(dir, 'bin')}:${process.env.PATH}` } };
}

const setParam = (dir: string, from: string, to: string) => {
  const text = readFileSync(join(dir, 'params.yaml'), 'utf8');
  assert.ok(text.includes(from), from);
  writeFileSync(join(dir, 'params.yaml'), text.replace(from, to));
};

// example-get-started's python scripts, replaced by shell scripts that write the declared outs
// from their inputs and the params they read from params.yaml themselves.
const GET_STARTED = {
  'data/data.xml': '<posts/>\n',
  'src/prepare.py': `seed=$(sed -n '/^prepare:/,/^[a-z]/p' params.yaml | awk '/seed:/ {print $2}')\nmkdir -p data/prepared && echo "seed=$seed $(cat "$1")" > data/prepared/train.tsv\n`,
  'src/featurization.py': 'mkdir -p "$2" && cp "$1/train.tsv" "$2/train.pkl"\n',
  'src/train.py': `n=$(sed -n '/^train:/,/^[a-z]/p' params.yaml | awk '/n_est:/ {print $2}')\necho "n_est=$n $(cat "$1/train.pkl")" > "$2"\n`,
  'src/evaluate.py': [
    'd=eval/plots/sklearn; mkdir -p $d/roc $d/cm $d/prc eval/plots/images',
    'echo "{\\"avg_prec\\": {\\"test\\": $(wc -c < "$1")}}" > eval/metrics.json',
    'for s in train test; do',
    '  echo \'{"roc": [{"fpr": 0, "tpr": 0}, {"fpr": 1, "tpr": 1}]}\' > $d/roc/$s.json',
    '  echo \'[{"actual": 0, "predicted": 0}, {"actual": 1, "predicted": 0}]\' > $d/cm/$s.json',
    '  echo \'{"prc": [{"recall": 1, "precision": 0.5}]}\' > $d/prc/$s.json',
    'done',
    "printf '\\211PNG\\r\\n' > eval/plots/images/importance.png",
  ].join('\n'),
};

test('iterative/example-get-started: converts, runs with stand-ins, reruns cached; n_est reruns train and evaluate only', () => {
  const { dir, env } = copyOf('example-get-started', GET_STARTED, { python: '#!/bin/sh\nexec sh "$@"\n' });
  const imp = cli(['import', 'dvc'], { cwd: dir });
  assert.equal(imp.code, 0, imp.stderr);
  assert.match(imp.stdout, /note: top-level artifacts: .* not carried over/);
  assert.match(imp.stdout, /wrote fisherflow\.yaml \(4 stages from dvc\.yaml\)/);
  assert.deepEqual(runJson(dir, [], env), { prepare: 'ran', featurize: 'ran', train: 'ran', evaluate: 'ran' });
  assert.deepEqual(ran(runJson(dir, [], env)), []);
  setParam(dir, 'n_est: 50', 'n_est: 60');
  assert.match(cli(['status'], { cwd: dir, env }).stdout, /stale {7}train\n {14}- param train\.n_est \(params\.yaml\) changed from 50 to 60/);
  assert.deepEqual(ran(runJson(dir, [], env)), ['evaluate', 'train']);
  assert.match(readFileSync(join(dir, 'model.pkl'), 'utf8'), /^n_est=60 seed=20170428/);
  // The top-level metrics and plots landed on evaluate: metrics show and plots show find them.
  assert.match(cli(['metrics', 'show'], { cwd: dir, env }).stdout, /eval\/metrics\.json +avg_prec\.test/);
  assert.match(cli(['plots', 'show'], { cwd: dir, env }).stdout, /wrote \.fisherflow\/plots\/show\.html \(4 of 4 plots drawn\)/);
});

// agent-baselines calls `uv run inspect eval|score` and `uv run scripts/*.py`: one stand-in `uv`
// writes what those would, from the arguments (each argument on its own line, so the test sees
// how the command split its words).
const UV = `#!/bin/bash
args=("$@")
arg() { local i; for ((i=0; i<\${#args[@]}; i++)); do [[ \${args[i]} == "$1" ]] && { echo "\${args[i+1]}"; return; }; done; }
case " $* " in
  *" inspect eval "*)
    out="$(arg --log-dir)/2025-01-01_\${INSPECT_EVAL_LOG_FILE_PATTERN}.eval"
    mkdir -p "$(dirname "$out")" && printf '%s\\n' "$@" > "$out" ;;
  *" inspect score "*) ;;
  *" scripts/log_errors.py "*|*" scripts/extract_model_responses.py "*)
    shift 2; in=$1; shift
    for f in "$@"; do mkdir -p "$(dirname "$f")"; echo "from $in" > "$f"; done ;;
  *" scripts/create_debug_logs.py "*)
    shift 2; base=\${2%.eval}
    mkdir -p "$(dirname "$3/$base")"
    for k in rubric citation answer_precision; do echo "$k of $1$2" > "$3/\${base}_\${k}_eval.csv"; done ;;
  *) echo "uv stand-in: unexpected: $*" >&2; exit 3 ;;
esac
`;

test('allenai/agent-baselines: 170 stages convert, run with a stand-in uv, rerun cached; sqa_scorer_version reruns exactly the scoring stages', () => {
  const { dir, env } = copyOf('agent-baselines', {}, { uv: UV });
  const imp = cli(['import', 'dvc'], { cwd: dir });
  assert.equal(imp.code, 0, imp.stderr);
  assert.match(imp.stdout, /matrix axis 'model' holds maps without distinct names; its members are named model0, model1/);
  const first = runJson(dir, ['-j', '4'], env);
  assert.equal(Object.keys(first).length, 170);
  assert.deepEqual([...new Set(Object.values(first))], ['ran']);
  // The merged defaults and `| raw`: o4-mini's extra arguments arrive as separate words, and
  // gemini's empty llm_args as none at all (DVC pastes text); a model name stays one word.
  const o4 = readFileSync(join(dir, 'dev_dvc_logs/solver_outputs/task_sqa_solver_openai/o4-mini.eval'), 'utf8').split('\n');
  assert.deepEqual(o4.slice(o4.indexOf('--model'), o4.indexOf('--model') + 4), ['--model', 'openai/o4-mini', '--reasoning-effort', 'high']);
  const gemini = readFileSync(join(dir, 'test_dvc_logs/solver_outputs/task_sqa_solver_google/gemini-3.1-pro-preview.eval'), 'utf8').split('\n');
  assert.deepEqual(gemini.slice(gemini.indexOf('--model') + 1, gemini.indexOf('--model') + 3), ['google/gemini-3.1-pro-preview', '-T']);
  assert.ok(existsSync(join(dir, 'dev_dvc_logs/debug_logs/task_sqa_solver_anthropic/claude-sonnet-4-6-thinking_rubric_eval.csv')));

  assert.deepEqual(ran(runJson(dir, ['-j', '4'], env)), []);
  setParam(dir, "sqa_scorer_version: 'may-23-2025'", "sqa_scorer_version: 'jun-01-2025'");
  const again = ran(runJson(dir, ['-j', '4'], env));
  assert.equal(again.length, 34);
  assert.ok(again.every((n) => n.startsWith('score_all_solvers@')), again.join(' '));
});

test('import rules: foreach/do, wdir, ${} → params/vars/item, | raw only where quoting would change the words; never overwrites', () => {
  const dir = tempDir({
    'params.yaml': 'lr: 0.1\nflags: --fast --deep\nnames: [a, b]\n',
    'more.yaml': 'depth: 3\n',
    'dvc.yaml': `vars:
  - out: results
stages:
  fit:
    foreach: \${names}
    do:
      cmd: python fit.py --lr \${lr} \${flags} "\${item}" > \${out}/\${item}.txt; echo \\\${HOME}
      params: [lr, {more.yaml: [depth]}]
      outs: ["\${out}/\${item}.txt"]
  sub:
    wdir: sub
    cmd: make
    deps: [Makefile]
    outs: [{built: {persist: true, remote: s3}}]
    always_changed: true
    meta: {owner: me}
`,
  });
  const { pipeline, notes } = convertDvc(join(dir, 'dvc.yaml'));
  assert.deepEqual(pipeline, {
    params_files: ['more.yaml'],
    vars: { out: 'results' },
    stages: {
      fit: {
        foreach: '${{ params.names }}',
        run: 'python fit.py --lr ${{ params.lr }} ${{ params.flags | raw }} "${{ item }}" > ${{ vars.out }}/${{ item }}.txt; echo ${HOME}',
        params: ['lr', 'depth'],
        outs: ['${{ vars.out }}/${{ item }}.txt'],
      },
      sub: { run: 'cd sub && make', deps: ['sub/Makefile'], outs: [{ path: 'sub/built', persist: true }], always_run: true },
    },
  });
  assert.deepEqual(notes, [
    "stage fit: ${{ params.flags | raw }}: its values are shell text (several words, empty, or shell characters), pasted as DVC does",
    "stage sub: wdir sub: the command starts with 'cd sub &&' and its paths are relative to the pipeline's folder",
    "stage sub: outs built: option 'remote' not carried over",
    "stage sub: key 'meta' has no fisherflow equivalent; not carried over",
  ]);
  // The output file is never overwritten without --force.
  assert.equal(cli(['import', 'dvc'], { cwd: dir }).code, 0);
  const again = cli(['import', 'dvc'], { cwd: dir });
  assert.equal(again.code, 2);
  assert.match(again.stderr, /fisherflow\.yaml exists; not overwriting it\n.*hint: pass --force/);
  assert.equal(cli(['import', 'dvc', '--force', '-o', 'other.yaml'], { cwd: dir }).code, 0);
  assert.match(readFileSync(join(dir, 'other.yaml'), 'utf8'), /^# Converted from dvc\.yaml by `fisherflow import dvc`/);
});
