// `gc` is safe: it never runs beside a run of a project it keeps results for, it keeps every
// pipeline and experiment of the project and of every project sharing the store, and it
// collects the temp files of interrupted writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_TAG } from '../../src/cache/atomic-write.js';
import { cli, cliAsync, ran, runJson, workspace } from '../helpers/cli.js';
import { removeAfterTests, waitFor } from '../helpers/processes.js';

function project(files: Record<string, string>): string {
  const d = workspace(files);
  mkdirSync(join(d, '.git')); // a project root, as `git init` makes one
  removeAfterTests(d);
  return d;
}

const ONE = (name: string) => `stages:\n  ${name}:\n    run: echo ${name} > ${name}.txt\n    outs: [${name}.txt]\n`;

test('gc --yes while a run is in progress refuses, and the run\'s fresh results survive', async () => {
  const dir = project({
    'fisherflow.yaml': `stages:
  a:
    run: echo a > a.txt
    outs: [a.txt]
  b:
    run: touch b-started; while [ -f hold ]; do sleep 0.1; done; cat a.txt > b.txt
    outs: [b.txt]
    needs: [a]
`,
    hold: '',
  });
  const child = cliAsync(['run'], { cwd: dir });
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.ok(await waitFor(() => existsSync(join(dir, 'b-started'))));
  // a's result is in the store but not yet in the lock file (written when the run ends).
  const gc = cli(['gc', '--yes'], { cwd: dir });
  assert.equal(gc.code, 2, gc.stdout + gc.stderr);
  assert.match(gc.stderr, /gc: another fisherflow run \(pid \d+ .*\) holds the workspace lock .*\(nothing removed\)/);
  rmSync(join(dir, 'hold'));
  assert.equal(await exited, 0);
  assert.deepEqual(runJson(dir), { a: 'cached', b: 'cached' });
});

test('gc at the project root keeps the results of every pipeline of the project (pipelines/*.yaml too)', () => {
  const dir = project({ 'fisherflow.yaml': ONE('top') });
  mkdirSync(join(dir, 'pipelines'));
  writeFileSync(join(dir, 'pipelines', 'other.yaml'), ONE('other'));
  assert.deepEqual(ran(runJson(dir)), ['top']);
  assert.deepEqual(ran(runJson(dir, ['pipelines/other.yaml'])), ['other']);
  const r = cli(['gc', '--yes'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /removing 0 run records and 0 objects; keeping 2 referenced by 2 lock file\(s\) of 1 project\(s\)/);
  assert.deepEqual(ran(runJson(dir, ['pipelines/other.yaml'])), []);
  assert.deepEqual(ran(runJson(dir)), []);
});

test('a store shared by several projects: gc in one keeps the others\' results, and forgets a project whose folder is gone', () => {
  const store = mkdtempSync(join(tmpdir(), 'ff-shared-store-'));
  removeAfterTests(store);
  const env = { FISHERFLOW_STORE: store };
  const a = project({ 'fisherflow.yaml': ONE('a') });
  const b = project({ 'fisherflow.yaml': ONE('b') });
  assert.deepEqual(ran(runJson(a, [], env)), ['a']);
  assert.deepEqual(ran(runJson(b, [], env)), ['b']);
  assert.equal(readdirSync(join(store, 'projects')).length, 2, 'each project registered itself');
  const r = cli(['gc', '--yes'], { cwd: a, env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /removing 0 run records and 0 objects; keeping 2 referenced by 2 lock file\(s\) of 2 project\(s\)/);
  assert.deepEqual(ran(runJson(b, [], env)), []);

  rmSync(b, { recursive: true, force: true });
  const dry = cli(['gc'], { cwd: a, env });
  assert.match(dry.stdout, new RegExp(`would remove 1 run records and 1 objects;[^\\n]*\\nwould forget project ${b} \\(its folder no longer exists\\)`));
  const wet = cli(['gc', '--yes'], { cwd: a, env });
  assert.match(wet.stdout, /removing 1 run records and 1 objects/);
  assert.equal(readdirSync(join(store, 'projects')).length, 1);
  assert.deepEqual(ran(runJson(a, [], env)), []);
});

test('gc collects temp files and staging folders whose writer is dead, and keeps those of live or other-host writers', () => {
  const dir = project({ 'fisherflow.yaml': ONE('a') });
  runJson(dir);
  const dead = spawnSync('true').pid!; // a pid that has exited
  const runs = join(dir, 'artifacts', 'runs');
  const shard = join(runs, readdirSync(runs)[0]);
  const tmp = join(dir, 'artifacts', 'tmp');
  mkdirSync(tmp, { recursive: true });
  const garbage = [
    join(shard, `${'0'.repeat(64)}.json.${dead}@${HOST_TAG}.tmp`), // a record write cut short
    join(shard, `${'1'.repeat(64)}.json.${dead}.tmp`), // the same by an older version
    join(tmp, `a-0badcafe.${dead}@${HOST_TAG}.tmp`), // a dead run's staging folder
  ];
  const kept = [join(tmp, `b-0badcafe.${process.pid}@${HOST_TAG}.tmp`), join(tmp, `c-0badcafe.${dead}@some-other-host.tmp`)];
  for (const f of [...garbage, ...kept]) {
    if (f.startsWith(tmp)) {
      mkdirSync(f);
      writeFileSync(join(f, 'partial.bin'), 'x');
    } else writeFileSync(f, '{"half": ');
  }
  const dry = cli(['gc'], { cwd: dir });
  assert.match(dry.stdout, /would remove 3 temp file\(s\) left by interrupted runs\nkeeping 1 temp file\(s\) written from other hosts/);
  const r = cli(['gc', '--yes'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(garbage.filter(existsSync), []);
  assert.deepEqual(kept.filter(existsSync), kept);
  assert.deepEqual(ran(runJson(dir)), []);
});
