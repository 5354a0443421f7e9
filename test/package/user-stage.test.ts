// Plays a user of the installed package: a fresh project gets fisherflow from `npm pack` (the
// files it ships, its exports and .d.ts), scaffolds a stage package with `fisherflow init --stage`,
// writes the README's example stage and test into it, type-checks it with `tsc --noEmit`, runs its
// test (the public `fisherflow/testing` helper), uses it from the README's pipeline, sees it
// cached, and sees it rerun after its code changed. The README's blocks are read from the README,
// so its example is what is tested.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { installPackedFisherflow, ok, run } from '../helpers/installed-package.js';

/** The fenced block after each `<!-- example: PATH -->` marker of the README, by PATH. */
function readmeExamples(): Map<string, string> {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const blocks = new Map<string, string>();
  for (const m of readme.matchAll(/<!-- example: (\S+) -->\n```\w*\n([\s\S]*?)\n```/g)) blocks.set(m[1], `${m[2]}\n`);
  return blocks;
}

test("a user's TypeScript stage package against the installed fisherflow: type-checked, tested, run, cached, rerun when its code changes", { timeout: 600_000 }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ff-user-'));
  try {
    // The package as published: what `npm pack` puts in the tarball (package.json "files").
    const { project, modules, shipped } = installPackedFisherflow(tmp);
    for (const f of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/stage/testing.d.ts', 'dist/stages/load/stage.js', 'schema/fisherflow.schema.json', 'templates/stage/package.json']) assert.ok(shipped.includes(f), `the package ships ${f}`);
    assert.ok(!shipped.some((f) => f.startsWith('dist/test/') || f.startsWith('test/')), 'the package ships no tests');

    const fisherflow = (...args: string[]) => run(process.execPath, [join(modules, '.bin', 'fisherflow'), ...args], project);
    const tsc = (...args: string[]) => run(process.execPath, [join(modules, '.bin', 'tsc'), ...args], project);

    // The scaffold, then the README's complete example in its place.
    assert.match(ok(fisherflow('init', '--stage', 'label-balance'), 'init'), /plugins: \[\.\/fisherflow-stage-label-balance\]/);
    const pkg = join(project, 'fisherflow-stage-label-balance');
    // The scaffold as made builds and passes its own tests (npm test: tsc, then node --test).
    assert.match(ok(run('npm', ['test'], pkg), 'npm test in the scaffold'), /# pass 2\n# fail 0/);
    const examples = readmeExamples();
    assert.deepEqual([...examples.keys()].sort(), ['fisherflow-stage-label-balance/stages/label-balance/stage.ts', 'fisherflow-stage-label-balance/test/label-balance.test.ts', 'fisherflow.yaml']);
    for (const [rel, text] of examples) writeFileSync(join(project, rel), text);
    const stageFile = join(pkg, 'stages', 'label-balance', 'stage.ts');
    const stageSource = readFileSync(stageFile, 'utf8');

    // Type-checked against the installed declarations: a mistake is a type error, not a run-time surprise.
    writeFileSync(stageFile, stageSource.replace('stageApiVersion: 1', 'stageApiVersion: 2').replace("ctx.inputs.field ?? 'label'", "ctx.inputs.feild ?? 'label'"));
    const wrong = tsc('--noEmit', '-p', pkg);
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stdout, /stage\.ts\(\d+,\d+\): error TS2322: Type '2' is not assignable to type '1'/);
    assert.match(wrong.stdout, /Property 'feild' does not exist on type 'Inputs'/);
    writeFileSync(stageFile, stageSource);
    ok(tsc('--noEmit', '-p', pkg), 'tsc --noEmit of the README example');

    // The README's test, with the public fisherflow/testing helper.
    assert.match(ok(run('npm', ['test'], pkg), 'npm test of the README example'), /# pass 1\n# fail 0/);

    // Used from the README's pipeline, beside a built-in stage.
    mkdirSync(join(project, 'data'));
    const rows = ['sentence\tlabel', ...Array.from({ length: 12 }, (_, i) => `sentence number ${i}\t${i % 3 === 0 ? 0 : 1}`)];
    writeFileSync(join(project, 'data', 'dev.tsv'), `${rows.join('\n')}\n`);
    const runJson = () => JSON.parse(ok(fisherflow('run', '--json'), 'fisherflow run')) as { stages: Array<{ name: string; status: string }> };
    const statuses = (r: ReturnType<typeof runJson>) => Object.fromEntries(r.stages.map((s) => [s.name, s.status]));
    assert.deepEqual(statuses(runJson()), { dev: 'ran', balance: 'ran' });
    assert.deepEqual(statuses(runJson()), { dev: 'cached', balance: 'cached' });
    const metrics = ok(fisherflow('metrics', 'show'), 'metrics show');
    assert.match(metrics, /balance\/metrics\.json\s+rows\s+12\n/);
    assert.match(metrics, /balance\/metrics\.json\s+majority_baseline\s+0\.666667/);
    assert.match(ok(fisherflow('stages'), 'stages'), /^label-balance\s+plugin \.\/fisherflow-stage-label-balance 0\.1\.0\s+Label counts of a data\.jsonl/m);

    // A change to the package's code, rebuilt: the stage reruns, the built-in upstream stays cached.
    writeFileSync(stageFile, stageSource.replace('majority_baseline.toFixed(3)', 'majority_baseline.toFixed(4)'));
    ok(run('npm', ['run', 'build'], pkg), 'npm run build');
    assert.match(ok(fisherflow('status'), 'status'), /up-to-date {2}dev\nstale {7}balance\n {14}- stage code changed \(label-balance [0-9a-f]{8} → [0-9a-f]{8}\)\n/);
    assert.deepEqual(statuses(runJson()), { dev: 'cached', balance: 'ran' });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
