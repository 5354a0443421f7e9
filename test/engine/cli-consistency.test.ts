// One CLI: every command takes the pipeline as a last positional argument; stage names get
// did-you-mean; STAGE.OUTPUT with dots in output or member names; show/logs answer for the run
// the lock file records (after `run --set`, whose defaults may name files that do not exist);
// --help with examples and no "(default: [])"; run keeps its files out of git, saying so once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { commit, ff, git, ok, removeTemporaryFolders, tempDir } from '../experiments/git-repo.js';

after(removeTemporaryFolders);

const NESTED = `params:
  n: 3
  src: missing/default.txt     # a default that does not exist here, as a checkpoint path on another machine
stages:
  make:
    foreach: [0.5, 1]
    run: echo \${{ item }} > out-\${{ item }}.txt
    outs: ["out-\${{ item }}.txt"]
  train:
    run: seq \${{ params.n }} > model.pkl
    outs: [model.pkl]
  grab:
    uses: copy
    with: { path: "\${{ params.src }}" }
`;

function nestedRepo(): string {
  const dir = tempDir({ '.gitignore': 'artifacts/\n.fisherflow/\n' });
  mkdirSync(join(dir, 'pipelines'));
  writeFileSync(join(dir, 'pipelines', 'p.yaml'), NESTED);
  writeFileSync(join(dir, 'pipelines', 'real.txt'), 'real\n');
  git(dir, 'init', '-q', '-b', 'main');
  return dir;
}

test('every command takes the pipeline as its last positional argument; show and logs answer for the run the lock file records', () => {
  const dir = nestedRepo();
  const P = 'pipelines/p.yaml';
  ok(dir, 'run', P, '--set', 'src=real.txt');
  commit(dir, 'first');
  // The pipeline's default src does not exist: these answer from the lock file's run, no planning.
  const grab = ok(dir, 'show', 'grab', P).trim();
  assert.equal(readFileSync(grab, 'utf8'), 'real\n');
  assert.match(ok(dir, 'logs', 'grab', P), /./s);
  // With overrides, for that run; and the default's missing file is still explained when asked about.
  assert.equal(ok(dir, 'show', 'grab', P, '--set', 'src=real.txt').trim(), grab);
  assert.match(ff(dir, 'show', 'grab', P, '--set', 'n=4').stderr, /input 'path' names \S+missing\/default\.txt, which does not exist/);

  ok(dir, 'exp', 'run', P, '--set', 'src=real.txt', '--set', 'n=5', '--name', 'five');
  for (const args of [
    ['status', P, '--set', 'src=real.txt'],
    ['dag', P],
    ['metrics', 'show', P],
    ['stages', P],
    ['diff', P],
    ['diff', 'HEAD', P],
    ['diff', 'HEAD', 'five', P],
    ['exp', 'show', P],
    ['gc', P],
  ]) ok(dir, ...args);
  assert.match(ok(dir, 'diff', 'HEAD', 'five', P), /n\s+3\s+→?\s*5|n: 3 → 5|3 → 5/);
  assert.match(ok(dir, 'exp', 'remove', 'five', P), /removed experiment five/);
  // push and pull too: stages, then the pipeline (the lock file beside it); a mistyped stage gets a suggestion.
  const remote = tempDir({});
  writeFileSync(join(dir, 'fisherflow.config.yaml'), `remotes:\n  nfs:\n    url: ${remote}\n`);
  assert.match(ok(dir, 'push', 'train', P, '--json'), /"pushed"/);
  ok(dir, 'pull', 'train', P);
  ok(dir, 'push', P, 'train'); // the earlier spelling, pipeline first
  assert.match(ff(dir, 'push', 'trian', P).stderr, /records no stage 'trian' \(did you mean 'train'\?\)/);
  assert.match(ff(dir, 'diff', 'HEAD', 'HEAD~1', 'HEAD~2').stderr, /diff takes at most two revisions, got HEAD, HEAD~1, HEAD~2; a pipeline file ends in \.yaml or \.yml/);
  // The old spelling still works, not twice.
  ok(dir, 'diff', 'HEAD', '-p', P);
  assert.match(ff(dir, 'diff', 'HEAD', P, '-p', P).stderr, /the pipeline is given twice/);
});

test('stage names: did-you-mean in show, logs and run --force; STAGE.OUTPUT with dots in output and member names', () => {
  const dir = nestedRepo();
  const P = 'pipelines/p.yaml';
  ok(dir, 'run', P, '--set', 'src=real.txt');
  assert.equal(readFileSync(ok(dir, 'show', 'train.model.pkl', P).trim(), 'utf8'), '1\n2\n3\n');
  assert.equal(readFileSync(ok(dir, 'show', 'make@0.5.out-0.5.txt', P).trim(), 'utf8'), '0.5\n');
  assert.equal(ok(dir, 'show', 'make@0.5', P), ok(dir, 'show', 'make@0.5.out-0.5.txt', P));
  const err = (args: string[]) => {
    const r = ff(dir, ...args);
    assert.equal(r.code, 2, r.stdout);
    return r.stderr.trim();
  };
  assert.equal(err(['show', 'trian', P]), "fisherflow: unknown stage 'trian' (did you mean 'train'?)");
  assert.equal(err(['show', 'trian.model.pkl', P]), "fisherflow: unknown stage 'trian' (did you mean 'train'?)");
  assert.equal(err(['show', 'train.model.pk', P]), "fisherflow: stage 'train' has no output 'model.pk' (did you mean 'model.pkl'?); its outputs: model.pkl");
  assert.equal(err(['logs', 'grb', P]), "fisherflow: unknown stage 'grb' (did you mean 'grab'?)");
  assert.equal(err(['run', P, '--set', 'src=real.txt', '--force', 'trains']), "fisherflow: --force: unknown stage 'trains' (did you mean 'train'?)");
  assert.equal(err(['show', 'make@2', P]), "fisherflow: unknown stage 'make@2' (did you mean 'make@1'?)");
  assert.match(err(['show', 'zzzzzz', P]), /^fisherflow: unknown stage 'zzzzzz'; its stages: make@0\.5, make@1, train, grab$/);
  // A command that printed nothing: an empty log is said to be one; no pipeline at all points at init.
  const quiet = ff(dir, 'logs', 'train', P);
  assert.equal(quiet.code, 0);
  assert.equal(quiet.stderr, "fisherflow: stage 'train' printed nothing (its log is empty)\n");
  assert.match(ff(tempDir({}), 'run').stderr, /no pipeline given and no fisherflow\.yaml in \S+ \(`fisherflow init` starts a project there; `fisherflow init --example tour` the README's tour\)/);
});

test('--help of every command has examples and no "(default: [])"', () => {
  const all: Command[] = [];
  const walk = (c: Command) => {
    for (const sub of c.commands) {
      all.push(sub);
      walk(sub);
    }
  };
  walk(buildProgram());
  assert.ok(all.length >= 16, `${all.length} commands`);
  for (const c of all) {
    let help = '';
    c.configureOutput({ writeOut: (s) => (help += s) });
    c.outputHelp();
    const name = `${c.parent?.name() === 'fisherflow' ? '' : `${c.parent?.name()} `}${c.name()}`;
    assert.match(help, /\nExamples:\n {2}\$ fisherflow \S/, `${name} --help has examples`);
    assert.doesNotMatch(help, /default: \[\]/, `${name} --help`);
  }
  // The real CLI, end to end.
  const dir = nestedRepo();
  const r = ff(dir, 'run', '--help');
  assert.match(r.stdout, /--set <key=value>\s+override a param \(repeatable, dotted keys\)\n/);
  assert.match(r.stdout, /Examples:\n {2}\$ fisherflow run\n/);
});

test('run keeps the store, its state and command-stage outputs out of git (not metrics, not what git ignores already), saying so once', () => {
  const dir = tempDir({
    'fisherflow.yaml': `stages:\n  count:\n    run: |\n      echo 3 > count.txt && echo '{"n": 3}' > m.json && mkdir -p plots && touch plots/a && echo log > run.log\n    outs: [count.txt, plots/, run.log]\n    metrics: [m.json]\n`,
    '.gitignore': 'node_modules/\n.fisherflow\n*.log\n',
  });
  git(dir, 'init', '-q', '-b', 'main');
  commit(dir, 'first');
  // A mistyped target is refused before anything changes.
  assert.equal(ff(dir, 'run', 'cuont').code, 2);
  assert.equal(readFileSync(join(dir, '.gitignore'), 'utf8'), 'node_modules/\n.fisherflow\n*.log\n');
  const first = ok(dir, 'run');
  assert.match(first, /^added to \.gitignore: \/artifacts\/ \/count\.txt \/plots \(the store, fisherflow's state and stage outputs stay out of git; commit the pipeline and its lock file\)$/m);
  assert.equal(readFileSync(join(dir, '.gitignore'), 'utf8'), 'node_modules/\n.fisherflow\n*.log\n/artifacts/\n/count.txt\n/plots\n');
  writeFileSync(join(dir, 'fisherflow.yaml'), readFileSync(join(dir, 'fisherflow.yaml'), 'utf8').replace('echo 3', 'echo 4'));
  assert.doesNotMatch(ok(dir, 'run'), /\.gitignore/, 'said once');
  // What git now shows is what belongs in a commit: the pipeline, its lock file, the metrics.
  const untracked = git(dir, 'status', '--porcelain', '--untracked-files=all').split('\n').filter(Boolean).sort();
  assert.deepEqual(untracked, ['?? fisherflow.lock', '?? m.json', ' M .gitignore', ' M fisherflow.yaml'].sort());
});
