// Stage packages (`plugins:`): resolution from node_modules or a path, where each type comes from,
// located errors (two packages defining one type, a package not installed, a stale stage API),
// and the code version of a package's stage. In-process where the planner answers, through the
// CLI where the user's view (run, status, the fast path, `stages`) is the point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cli, ran, runJson } from '../helpers/cli.js';
import { openWorkspace } from '../../src/plan/workspace.js';
import { planPipeline } from '../../src/plan/plan.js';
import { UserErrors } from '../../src/errors.js';
import { describeSource } from '../../src/stage/registry.js';

/** A stage file in plain JS: `stage.js` of type `type`, importing `./lib.js` when `withLib`. */
function stageSource(type: string, opts: { lib?: boolean; dep?: string; apiVersion?: number | null } = {}): string {
  const version = opts.apiVersion === undefined ? 1 : opts.apiVersion;
  return `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
${opts.lib ? "import { suffix } from '../../lib.js';\n" : ''}${opts.dep ? `import '${opts.dep}';\n` : ''}export default {
  ${version === null ? '' : `stageApiVersion: ${version},`}
  type: '${type}', description: 'writes its text', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, additionalProperties: false },
  outputs: () => ({ out: { path: 'out.txt', kind: 'file' } }),
  async run(ctx) { writeFileSync(join(ctx.outDir, 'out.txt'), (ctx.inputs.text ?? '${type}')${opts.lib ? ' + suffix' : ''}); },
};
`;
}

function write(root: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
}

/**
 * A project with a package `fisherflow-stage-text` in node_modules (types `shout` and `whisper`,
 * `shout` importing a local lib and the installed package `leftpad`) and a folder `my-stages`.
 */
function project(pipeline: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ff-plugins-'));
  const pkg = 'node_modules/fisherflow-stage-text';
  write(dir, {
    'fisherflow.yaml': pipeline,
    [`${pkg}/package.json`]: JSON.stringify({ name: 'fisherflow-stage-text', version: '1.2.0', type: 'module', fisherflow: { stages: 'stages' } }),
    [`${pkg}/README.md`]: 'docs\n',
    [`${pkg}/lib.js`]: "export const suffix = '!';\n",
    [`${pkg}/stages/shout/stage.js`]: stageSource('shout', { lib: true, dep: 'leftpad' }),
    [`${pkg}/stages/whisper/stage.js`]: stageSource('whisper'),
    'node_modules/leftpad/package.json': JSON.stringify({ name: 'leftpad', version: '1.0.0', type: 'module', main: 'index.js' }),
    'node_modules/leftpad/index.js': 'export default (s) => s;\n',
    'my-stages/echo/stage.js': stageSource('echo'),
  });
  return dir;
}

const BOTH = `plugins: [fisherflow-stage-text, ./my-stages]
stages:
  a: { uses: shout, with: { text: hi } }
  b: { uses: whisper }
  c: { uses: echo }
`;

async function codeVersions(dir: string): Promise<Record<string, string | undefined>> {
  const ws = await openWorkspace(join(dir, 'fisherflow.yaml'), { env: {} });
  return Object.fromEntries(['shout', 'whisper', 'echo'].map((t) => [t, ws.registry.has(t) ? ws.registry.implementationHash(t) : undefined]));
}

test('plugins resolve from node_modules and from a path; each type knows where it comes from', async () => {
  const dir = project(BOTH);
  const ws = await openWorkspace(join(dir, 'fisherflow.yaml'), { env: {} });
  assert.equal(describeSource(ws.registry.entry('shout').source), 'plugin fisherflow-stage-text 1.2.0');
  assert.equal(describeSource(ws.registry.entry('echo').source), 'plugin ./my-stages');
  assert.equal(describeSource(ws.registry.entry('write').source), 'built-in');
  const plans = planPipeline(ws);
  assert.deepEqual([...plans.values()].map((p) => [p.name, p.reasons]), [['a', [{ kind: 'never-ran' }]], ['b', [{ kind: 'never-ran' }]], ['c', [{ kind: 'never-ran' }]]]);
});

test("a package stage's code version covers its own files, package.json and installed dependencies, per type", async () => {
  const dir = project(BOTH);
  const pkg = join(dir, 'node_modules', 'fisherflow-stage-text');
  const v0 = await codeVersions(dir);
  writeFileSync(join(pkg, 'README.md'), 'other docs\n');
  assert.deepEqual(await codeVersions(dir), v0, 'a file no stage imports does not change a code version');
  writeFileSync(join(pkg, 'lib.js'), "export const suffix = '!!';\n");
  const v1 = await codeVersions(dir);
  assert.notEqual(v1.shout, v0.shout, 'a local import changed');
  assert.equal(v1.whisper, v0.whisper, 'another type of the same package does not import it');
  writeFileSync(join(dir, 'node_modules', 'leftpad', 'package.json'), JSON.stringify({ name: 'leftpad', version: '1.0.1', type: 'module', main: 'index.js' }));
  const v2 = await codeVersions(dir);
  assert.notEqual(v2.shout, v1.shout, 'an imported package was upgraded');
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'fisherflow-stage-text', version: '1.3.0', type: 'module', fisherflow: { stages: 'stages' } }));
  const v3 = await codeVersions(dir);
  assert.notEqual(v3.whisper, v2.whisper, "the package's package.json is part of every type's version");
  // The same package in another project (another path) has the same code versions.
  const other = project(BOTH);
  assert.deepEqual(await codeVersions(other), v0);
});

async function loadErrors(dir: string): Promise<string[]> {
  try {
    await openWorkspace(join(dir, 'fisherflow.yaml'), { env: {} });
  } catch (e) {
    if (e instanceof UserErrors) return e.errors.map((x) => x.format());
    if (e instanceof Error && 'format' in e) return [(e as unknown as { format(): string }).format()];
    throw e;
  }
  return [];
}

test('two packages defining one type, or a package redefining a built-in, are located errors', async () => {
  const dir = project(`plugins:
  - fisherflow-stage-text
  - ./more
stages:
  a: { uses: shout }
`);
  write(dir, { 'more/shout/stage.js': stageSource('shout'), 'more/write/stage.js': stageSource('write') });
  const errors = await loadErrors(dir);
  assert.equal(errors.length, 2, errors.join('\n'));
  assert.match(errors[0], /fisherflow\.yaml:3:5: plugin '\.\/more' defines stage type 'shout', which plugin fisherflow-stage-text 1\.2\.0 defines too; a type must come from one place/);
  assert.match(errors[1], /fisherflow\.yaml:3:5: plugin '\.\/more' defines stage type 'write', which is a built-in stage type/);
});

test('a plugin that cannot be found or used says where and why', async () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['fisherflow-stage-nope', {}, /fisherflow\.yaml:1:11: plugin 'fisherflow-stage-nope': not installed: no node_modules\/fisherflow-stage-nope in .* or a folder above it\n  hint: npm install fisherflow-stage-nope/],
    ['./missing', {}, /fisherflow\.yaml:1:11: plugin '\.\/missing': no such folder /],
    ['not a name!', {}, /plugin 'not a name!': expected a package name \(fisherflow-stage-foo, @lab\/stages\) or a path to a folder/],
    ['./pkg', { 'pkg/package.json': '{"name": "pkg"}' }, /plugin '\.\/pkg': .*package\.json does not name its folder of stages\n  hint: a stage package declares "fisherflow": \{ "stages": "dist\/stages" \}/],
    ['./ts', { 'ts/package.json': '{"name": "ts", "fisherflow": {"stages": "dist/stages"}}', 'ts/tsconfig.json': '{}' }, /plugin '\.\/ts': its folder of stages .*dist\/stages does not exist\n  hint: build the package first \(npm run build\)/],
    ['./empty', { 'empty/README.md': 'x' }, /plugin '\.\/empty': no stages in .*empty \(expected one folder per stage type, NAME\/stage\.js\)/],
  ];
  for (const [spec, files, expected] of cases) {
    const dir = project(`plugins: [${JSON.stringify(spec)}]\nstages:\n  a: { uses: write, with: { text: x } }\n`);
    write(dir, files);
    const errors = await loadErrors(dir);
    assert.equal(errors.length, 1, `${spec}: ${errors.join('\n')}`);
    assert.match(errors[0], expected);
  }
});

test('a stage written for another stage API, or not a stage at all, is refused at its use with a clear message', async () => {
  const dir = project('plugins: [./mine]\nstages:\n  old:\n    uses: old\n  new:\n    uses: future\n  odd:\n    uses: misnamed\n');
  write(dir, {
    'mine/old/stage.js': stageSource('old', { apiVersion: null }),
    'mine/future/stage.js': stageSource('future', { apiVersion: 2 }),
    'mine/misnamed/stage.js': stageSource('something-else'),
  });
  const errors = await loadErrors(dir);
  assert.equal(errors.length, 3, errors.join('\n'));
  assert.match(errors[0], /fisherflow\.yaml:4:11: .*mine\/old\/stage\.js declares no stageApiVersion; this fisherflow \(\d+\.\d+\.\d+\) runs stages written for stage API 1: add `stageApiVersion: 1`/);
  assert.match(errors[1], /fisherflow\.yaml:6:11: .*mine\/future\/stage\.js was written for stage API 2, but this fisherflow \(.*\) runs stages written for stage API 1: upgrade fisherflow/);
  assert.match(errors[2], /fisherflow\.yaml:8:11: .*misnamed\/stage\.js is not a valid stage: `type` is 'something-else' but its folder is 'misnamed'/);
});

test('CLI: a package stage is cached, listed with its source, and reruns (past the fast path) when its code changes', () => {
  const dir = project(BOTH);
  assert.deepEqual(ran(runJson(dir)), ['a', 'b', 'c']);
  assert.deepEqual(ran(runJson(dir)), []);
  const list = JSON.parse(cli(['stages', '--json'], { cwd: dir }).stdout) as Array<{ type: string; source: Record<string, unknown> }>;
  assert.deepEqual(list.find((s) => s.type === 'shout')!.source, { kind: 'plugin', plugin: 'fisherflow-stage-text', dir: 'node_modules/fisherflow-stage-text', name: 'fisherflow-stage-text', version: '1.2.0' });
  assert.deepEqual(list.find((s) => s.type === 'write')!.source, { kind: 'builtin' });
  write(dir, { 'extra/hello/stage.js': stageSource('hello') });
  const listed = cli(['stages'], { cwd: dir, env: { FISHERFLOW_STAGES_PATH: join(dir, 'extra') } }).stdout;
  assert.match(listed, /^type\s+from\s+description\n/);
  assert.match(listed, /^echo\s+plugin \.\/my-stages\s+writes its text$/m);
  assert.match(listed, /^hello\s+FISHERFLOW_STAGES_PATH \S+\/extra\s+writes its text$/m);
  assert.match(listed, /^write\s+built-in\s+Write a text/m);

  // The last run left a fast-path snapshot; an edit of the package's code must get past it.
  writeFileSync(join(dir, 'node_modules', 'fisherflow-stage-text', 'lib.js'), "export const suffix = '?';\n");
  const st = cli(['status'], { cwd: dir });
  assert.match(st.stdout, /stale {7}a\n {14}- stage code changed \(shout [0-9a-f]{8} → [0-9a-f]{8}\)\nup-to-date {2}b\nup-to-date {2}c\n/);
  assert.deepEqual(ran(runJson(dir)), ['a']);
});
