// The README's tour, as a new user types it: fisherflow installed from `npm pack` into a fresh
// project (test/helpers/installed-package.ts, as the README's Install block does it), a fresh git
// repository, then every command line of the tour's block run as written, in order, through the
// installed CLI, offline (an empty Hugging Face cache: the vendored tokenizer stands in).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { installPackedFisherflow, ok, run } from '../helpers/installed-package.js';
import { GIT_ENV } from '../experiments/git-repo.js';

/** The fenced block after each `<!-- tour: NAME -->` marker of the README. */
function tourBlocks(): Record<string, string> {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  return Object.fromEntries([...readme.matchAll(/<!-- tour: (\S+) -->\n```\w*\n([\s\S]*?)\n```/g)].map((m) => [m[1], `${m[2]}\n`]));
}

test('the README tour runs as written in a fresh git repository through the installed CLI', { timeout: 900_000 }, () => {
  const blocks = tourBlocks();
  assert.deepEqual(Object.keys(blocks).sort(), ['commands', 'fisherflow.yaml', 'install']);
  const tmp = mkdtempSync(join(tmpdir(), 'ff-tour-'));
  try {
    const { project, modules, tarball, shipped } = installPackedFisherflow(tmp);
    for (const f of ['data/sst2/dev.tsv', 'data/bert-base-cased/tokenizer.json', 'templates/tour/fisherflow.yaml', 'templates/project/fisherflow.yaml']) assert.ok(shipped.includes(f), `the package ships ${f}`);
    // The Install block installs exactly this tarball, and puts its bin folder on PATH, as done here.
    assert.ok(blocks.install.includes('npm pack'), blocks.install);
    assert.ok(blocks.install.includes(`npm install --save-dev ../fisherflow/${tarball}`), `the README installs ${tarball}:\n${blocks.install}`);
    assert.ok(blocks.install.includes('export PATH="$PWD/node_modules/.bin:$PATH"'));
    ok(run('git', ['init', '-q', '-b', 'main'], project, GIT_ENV), 'git init');

    const env = { ...GIT_ENV, PATH: `${join(modules, '.bin')}:${process.env.PATH}`, HF_HUB_CACHE: join(tmp, 'empty-hub-cache'), FISHERFLOW_GPUS: '' };
    const lines = blocks.commands.split('\n').filter((l) => l.trim() && !l.trimStart().startsWith('#'));
    const outputs: Array<[string, string]> = [];
    for (const line of lines) {
      const r = run('bash', ['-c', line], project, env);
      outputs.push([line.replace(/\s+#.*$/, '').trim(), ok(r, line) + r.stderr]);
    }
    /** What the `nth` line running `command` printed. */
    const said = (command: string, nth = 0) => {
      const found = outputs.filter(([c]) => c === command);
      assert.ok(found.length > nth, `the tour runs \`${command}\`: ${outputs.map(([c]) => c).join(' | ')}`);
      return found[nth][1];
    };

    // init wrote the README's pipeline (its schema line pointing into this project's install) and the data.
    assert.equal(readFileSync(join(project, 'fisherflow.yaml'), 'utf8'), blocks['fisherflow.yaml']);
    assert.ok(existsSync(join(project, 'node_modules', 'fisherflow', 'schema', 'fisherflow.schema.json')));
    assert.equal(readFileSync(join(project, 'data', 'dev.tsv'), 'utf8'), readFileSync(join(REPO_ROOT, 'data', 'sst2', 'dev.tsv'), 'utf8'));

    const first = said('fisherflow run');
    assert.match(first, /ran 4, cached 0, failed 0/);
    assert.match(first, /^added to \.gitignore: \/count\.txt /m);
    assert.match(first, /tokenizer 'bert-base-cased': not in the Hugging Face cache \(.*\); using the tokenizer files vendored with fisherflow \(\S+node_modules\/fisherflow\/data\/bert-base-cased\)/);
    assert.match(said('fisherflow run', 1), /ran 0, cached 4, failed 0/);
    assert.doesNotMatch(said('fisherflow run', 1), /vendored/, 'the fallback is noted when a stage reading it runs');
    assert.match(said('fisherflow run', 2), /ran 0, cached 4, failed 0/);
    assert.match(said('fisherflow status --set take=100'), /stale {7}dev\n {14}- param take changed from 200 to 100\nstale {7}reversed@st\n {14}- upstream stage 'dev' will rerun\n/);
    const rerun = said('fisherflow run --set take=100');
    assert.match(rerun, /ran 4, cached 0, failed 0/);
    assert.match(said('fisherflow dag --format mermaid'), /reversed@st|reversed_st/);
    const data = said('fisherflow show reversed@st.data').trim();
    assert.equal(readFileSync(data, 'utf8').trim().split('\n').length <= 100, true, 'the take=100 run');
    assert.match(said('fisherflow exp run --set take=50 --name small'), /experiment small recorded \(take=50\)/);
    assert.match(said('fisherflow exp show'), /└─ small/);
    assert.match(said('fisherflow diff HEAD small'), /^ {2}take +200 +50$/m);
    // After the commit nothing is left for git: .gitignore keeps the store, the state and count.txt out.
    assert.equal(ok(run('git', ['status', '--porcelain'], project, GIT_ENV), 'git status'), '');
    assert.match(readFileSync(join(project, '.gitignore'), 'utf8'), /^\/count\.txt$/m);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
