// Issue 19, item 3: plots. Data files as rows, each template drawn by Vega-Lite to SVG, the
// `plots show` / `plots diff` page (revisions and experiments overlaid), --open, the report
// stage's plots, and `status`/`run` never loading vega.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePlotRows, plotFields, plotSpec, renderSvg, scopeIds } from '../../ml/plots/index.js';
import { BIN, REPO_ROOT, runJson } from '../helpers/cli.js';
import { GIT_ENV, commit, git, ok, removeTemporaryFolders, tempDir } from '../experiments/git-repo.js';

after(removeTemporaryFolders);

test('plot files as rows: JSON lists (bare or in an object), CSV with quotes, TSV; default fields', () => {
  assert.deepEqual(parsePlotRows('[{"a": 1}]', 'x.json'), [{ a: 1 }]);
  assert.deepEqual(parsePlotRows('{"roc": [{"fpr": 0, "tpr": 0.5}]}', 'roc.json'), [{ fpr: 0, tpr: 0.5 }]);
  assert.deepEqual(parsePlotRows('step,name,loss\n1,"a, b",0.5\n2,"say ""hi""",0.25\n', 'l.csv'), [{ step: 1, name: 'a, b', loss: 0.5 }, { step: 2, name: 'say "hi"', loss: 0.25 }]);
  assert.deepEqual(parsePlotRows('x\ty\n1\t2\n', 'p.tsv'), [{ x: 1, y: 2 }]);
  assert.deepEqual(plotFields([{ epoch: 1, loss: 0.5, acc: 0.7 }], undefined, undefined, 'f'), { x: 'step', y: ['acc'] });
  assert.throws(() => plotFields([{ a: 1 }], 'b', undefined, 'loss.csv'), /loss\.csv: no field 'b' \(fields: a\)/);
  assert.throws(() => parsePlotRows('{"a": 1}', 'x.json'), /x\.json: expected a list of objects/);
});

test('each template renders to SVG through Vega-Lite: lines per series, grouped bars, counted confusion cells', async () => {
  const rows = [{ epoch: 1, loss: 0.9 }, { epoch: 2, loss: 0.4 }];
  const line = await renderSvg(plotSpec({ template: 'line', x: 'epoch', y: ['loss'] }, [{ label: 'HEAD', rows }, { label: 'workspace', rows: [{ epoch: 1, loss: 0.8 }] }], 'l'));
  assert.match(line, /^<svg /);
  assert.equal((line.match(/class="mark-line role-mark/g) ?? []).length, 2, 'a line per side');
  assert.match(line, />HEAD<\/text>/, 'a legend names the sides');
  // Two charts inline in one page must not share Vega's clip-path ids.
  assert.equal(scopeIds('<clipPath id="clip1"/><g clip-path="url(#clip1)"><use href="#clip1"/>', 'p7'), '<clipPath id="p7-clip1"/><g clip-path="url(#p7-clip1)"><use href="#p7-clip1"/>');
  const bar = await renderSvg(plotSpec({ template: 'bar', x: 'epoch', y: ['loss'] }, [{ label: 'a', rows }], 'b'));
  assert.match(bar, /class="mark-rect role-mark/);
  const cm = await renderSvg(plotSpec({ template: 'confusion', x: 'actual', y: ['predicted'] }, [{ label: 'a', rows: [{ actual: 0, predicted: 0 }, { actual: 1, predicted: 0 }, { actual: 1, predicted: 0 }] }], 'c'));
  const counts = [...cm.matchAll(/<text[^>]*>(\d+)<\/text>/g)].map((m) => m[1]);
  assert.ok(counts.includes('2') && counts.includes('1'), `cell counts in ${counts.join(',')}`);
});

const PIPELINE = `params: { n: 3 }
stages:
  train:
    run: >-
      mkdir -p eval && printf 'epoch,loss\\n1,0.9\\n2,0.5\\n3,0.\${{ params.n }}\\n' > loss.csv &&
      echo '[{"actual": 0, "predicted": 0}, {"actual": 1, "predicted": 0}]' > eval/cm.json &&
      printf '\\211PNG\\r\\n' > eval/pic.png
    outs: [eval]
    plots:
      - { file: loss.csv, x: epoch, y: loss, title: Loss }
      - { file: eval/cm.json, x: actual, y: predicted, template: confusion }
      - eval/pic.png
  report:
    uses: report
    with:
      title: Run
      plots: [{ file: "\${{ stages.train.outputs['loss.csv'] }}", x: epoch, y: loss, title: Loss }]
`;

test('plots show and plots diff: one self-contained page; revisions and experiments overlaid; --open; the report has them', () => {
  const dir = tempDir({ 'fisherflow.yaml': PIPELINE, '.gitignore': 'artifacts/\n.fisherflow/\nloss.csv\neval/\n' });
  git(dir, 'init', '-q', '-b', 'main');
  runJson(dir);
  commit(dir, 'base');
  ok(dir, 'exp', 'run', '--set', 'n=1', '--name', 'low');
  runJson(dir, ['--set', 'n=7']);

  const show = JSON.parse(ok(dir, 'plots', 'show', '--json')) as { page: string; plots: Array<{ file: string; template: string; sides: string[] }> };
  assert.deepEqual(show.plots.map((p) => [p.file, p.template, p.sides]), [['loss.csv', 'line', ['workspace']], ['eval/cm.json', 'confusion', ['workspace']], ['eval/pic.png', 'image', ['workspace']]]);
  const page = readFileSync(show.page, 'utf8');
  assert.equal((page.match(/<svg /g) ?? []).length, 2);
  assert.match(page, /<img alt="eval\/pic\.png \(workspace\)" src="data:image\/png;base64,/);
  assert.doesNotMatch(page, /<script|src="http|href="http/, 'nothing loads from anywhere');

  // HEAD, the experiment and the workspace in one chart; --open hands the page to $BROWSER.
  const browser = join(dir, 'browser.sh');
  writeFileSync(browser, `#!/bin/sh\necho "$1" > ${join(dir, 'opened.txt')}\n`);
  chmodSync(browser, 0o755);
  const out = join(dir, 'diff.html');
  const r = spawnSync(process.execPath, [BIN, 'plots', 'diff', 'HEAD', 'low', 'workspace', '-o', out, '--open'], { cwd: dir, env: { ...GIT_ENV, BROWSER: browser }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote diff\.html \(3 of 3 plots drawn\)/);
  const diff = readFileSync(out, 'utf8');
  for (const side of ['HEAD', 'low', 'workspace']) assert.match(diff, new RegExp(`>${side}</text>`));
  assert.equal((diff.match(/<img /g) ?? []).length, 3, 'an image per side');
  for (let i = 0; i < 50 && spawnSync('test', ['-s', join(dir, 'opened.txt')]).status !== 0; i++) spawnSync('sleep', ['0.1']);
  assert.equal(readFileSync(join(dir, 'opened.txt'), 'utf8').trim(), out);

  // The report stage draws its plots the same way.
  const report = readFileSync(ok(dir, 'show', 'report.report', '--set', 'n=7').trim(), 'utf8');
  assert.match(report, /<section id="plots"><h2>Plots<\/h2>/);
  assert.match(report, /class="mark-line role-mark/);
});

test('status and run never load vega (it costs about a second to import)', () => {
  const dir = tempDir({ 'fisherflow.yaml': 'stages:\n  s:\n    run: echo 1 > a.csv\n    plots: [a.csv]\n' });
  const hook = join(REPO_ROOT, 'dist', 'test', 'plots', 'forbid-vega.js');
  const ff = (...args: string[]) => spawnSync(process.execPath, ['--import', hook, BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, FISHERFLOW_GPUS: '' } });
  for (const args of [['status'], ['run'], ['status'], ['run', '--force']]) {
    const r = ff(...args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  const guarded = ff('plots', 'show');
  assert.match(guarded.stdout + guarded.stderr, /vega was imported/, 'the guard does catch an import');
});
