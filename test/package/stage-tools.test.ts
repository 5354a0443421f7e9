// The tools a stage author gets besides the contract: `fisherflow init --stage` (what it writes,
// what it refuses) and the public test helper `runStage` (`fisherflow/testing`), in-process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCommand } from '../../src/cli/commands/init.js';
import { UserError } from '../../src/errors.js';
import { defineStage, STAGE_API_VERSION, type StageModule } from 'fisherflow';
import { runStage, StageTestError } from 'fisherflow/testing';
import writeStage from '../../stages/write/stage.js';
import copyStage from '../../stages/copy/stage.js';
import { REPO_ROOT } from '../helpers/cli.js';

const temp = () => mkdtempSync(join(tmpdir(), 'ff-tools-'));

test('init --stage writes a stage package for the type, and refuses bad names and existing folders', () => {
  const cwd = temp();
  const message = initCommand({ stage: 'label-balance' }, cwd);
  const dir = join(cwd, 'fisherflow-stage-label-balance');
  assert.match(message, /^Created fisherflow-stage-label-balance\/, a stage package for stage type 'label-balance'/);
  assert.match(message, /plugins: \[\.\/fisherflow-stage-label-balance\]/);
  assert.deepEqual(readdirSync(dir).sort(), ['.gitignore', 'README.md', 'package.json', 'stages', 'test', 'tsconfig.json']);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'fisherflow-stage-label-balance');
  assert.deepEqual(pkg.fisherflow, { stages: 'dist/stages' });
  assert.match(pkg.peerDependencies.fisherflow, /^\^\d+\.\d+\.\d+$/);
  const stage = readFileSync(join(dir, 'stages', 'label-balance', 'stage.ts'), 'utf8');
  assert.match(stage, new RegExp(`stageApiVersion: ${STAGE_API_VERSION},\\n  type: 'label-balance',`));
  assert.doesNotMatch(stage + readFileSync(join(dir, 'test', 'label-balance.test.ts'), 'utf8'), /__[A-Z_]+__/, 'every placeholder filled');

  const refused = (o: { stage?: string; example?: string; dir?: string }) => assert.throws(() => initCommand(o, cwd), UserError);
  refused({ stage: 'label-balance' }); // exists now
  refused({ stage: 'Label Balance' });
  refused({ stage: 'write' }); // a built-in type
  refused({ example: 'tuor' }); // no such example (a project is `init` with no option)
  refused({ stage: 'x', example: 'tour' });
  mkdirSync(join(cwd, 'taken'));
  writeFileSync(join(cwd, 'taken', 'notes.txt'), 'mine');
  assert.throws(() => initCommand({ stage: 'other', dir: 'taken' }, cwd), /taken already exists and is not an empty folder; fisherflow init never overwrites files/);
  assert.equal(readFileSync(join(cwd, 'taken', 'notes.txt'), 'utf8'), 'mine');
  assert.deepEqual(readdirSync(cwd).sort(), ['fisherflow-stage-label-balance', 'taken'], 'no temporary folder left behind');
  // An empty folder may be filled.
  mkdirSync(join(cwd, 'empty'));
  initCommand({ stage: 'other', dir: 'empty' }, cwd);
  assert.ok(existsSync(join(cwd, 'empty', 'stages', 'other', 'stage.ts')));
});

test('runStage runs a stage as the engine would: inputs checked, paths resolved, outputs verified', async () => {
  const run = await runStage(writeStage, { text: 'hello' });
  assert.equal(readFileSync(run.outputs.file, 'utf8'), 'hello');
  assert.deepEqual(run.logs, ['wrote out.txt']);
  run.remove();
  assert.ok(!existsSync(run.dir));

  // Relative path inputs resolve against cwd, as against the pipeline's folder.
  const cwd = temp();
  writeFileSync(join(cwd, 'in.txt'), 'data');
  const copied = await runStage(copyStage, { path: 'in.txt' }, { cwd });
  assert.equal(copied.inputs.path, join(cwd, 'in.txt'));
  assert.equal(readFileSync(copied.outputs.copy, 'utf8'), 'data');

  // What the engine refuses before running: schema violations and the stage's own check.
  await assert.rejects(runStage(writeStage, { text: 'x', colour: 'red' } as never), (e: Error) => e instanceof StageTestError && /write: invalid inputs: with must NOT have additional properties/.test(e.message));
  await assert.rejects(runStage(writeStage, {}), /write: give `text` or `json`/);

  // A stage that does not write what it declares.
  const forgetful = defineStage<{ n?: number }>({
    stageApiVersion: 1,
    type: 'forgetful',
    description: 'declares an output it never writes',
    inputSchema: { type: 'object' },
    outputs: () => ({ result: { path: 'result.json', kind: 'file' } }),
    async run() {},
  });
  await assert.rejects(runStage(forgetful, {}), /forgetful: stage finished without writing its output 'result' \(result\.json\)/);

  // A stage written for another stage API is refused, as when the engine loads it.
  const stale = { ...forgetful, stageApiVersion: 2 } as unknown as StageModule;
  await assert.rejects(runStage(stale, {}), /was written for stage API 2, but this fisherflow .* runs stages written for stage API 1/);
});

test('the built-in stages and ml/ use only the public API: no import reaches into src/', () => {
  const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : n.endsWith('.ts') ? [join(dir, n)] : []));
  const sources = [...files(join(REPO_ROOT, 'stages')), ...files(join(REPO_ROOT, 'ml'))];
  assert.ok(sources.length > 40);
  const engine: string[] = [];
  let publicImports = 0;
  for (const f of sources) {
    for (const m of readFileSync(f, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
      if (/(^|\/)src\//.test(m[1]) || m[1].startsWith('fisherflow/')) engine.push(`${f.slice(REPO_ROOT.length + 1)}: ${m[1]}`);
      if (m[1] === 'fisherflow') publicImports++;
    }
  }
  assert.deepEqual(engine, []);
  assert.ok(publicImports >= 9, 'every built-in stage imports the contract as fisherflow');
});
