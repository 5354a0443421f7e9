// The S3 remote end to end, against a real S3 server (s3rver) on 127.0.0.1: push, then a fresh
// clone runs nothing; damaged or missing remote files are caught and the stage runs locally; wrong
// credentials and a server that is down give clear errors and never stop a local run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, ran, runJson } from '../helpers/cli.js';
import { startS3, type TestS3 } from '../helpers/s3rver.js';
import { outputs, project, remoteFiles, s3Config, S3_ENV } from './project.js';

let s3: TestS3;
/** A project that ran once and pushed to prefix 'main'. */
let origin: string;
before(async () => {
  s3 = await startS3();
  origin = project(s3Config(s3, 'main'));
  runJson(origin, [], S3_ENV);
  const push = cli(['push'], { cwd: origin, env: S3_ENV });
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stdout, /pushed 3 results to 'shared' \(s3:\/\/ff-test\/main\): 5 files, 3\.0 MB/);
});
after(async () => {
  await s3.stop();
});

const objectFile = (prefix: string, area: string) => remoteFiles(join(s3.directory, s3.bucket, prefix), new RegExp(`^${area}/.*\\._S3rver_object$`));

test('s3: a fresh clone fetches everything and runs nothing; outputs byte-identical; pushing again sends nothing', () => {
  const clone = project(s3Config(s3, 'main'));
  const status = cli(['status'], { cwd: clone, env: S3_ENV });
  assert.match(status.stdout, /stale {7}data {2}\(available on remote 'shared'\)/);
  assert.match(status.stdout, /0 up to date, 3 stale \(3 available on remote 'shared', 0 will run\)/);
  assert.deepEqual(ran(runJson(clone, [], S3_ENV)), []);
  assert.deepEqual(outputs(clone), outputs(origin));
  assert.match(cli(['push'], { cwd: origin, env: S3_ENV }).stdout, /pushed 0 results .* 0 files, 0 B .*; 3 already there/);
});

test('s3: pull fills the store from the lock file (each file verified); run then restores the outputs', () => {
  const clone = project(s3Config(s3, 'main'));
  copyFileSync(join(origin, 'fisherflow.lock'), join(clone, 'fisherflow.lock'));
  const pull = cli(['pull', '--json'], { cwd: clone, env: S3_ENV });
  assert.equal(pull.code, 0, pull.stderr);
  const r = JSON.parse(pull.stdout) as { pulled: string[]; files: number; bytes: number };
  assert.deepEqual(r.pulled.sort(), ['data', 'note', 'sum']);
  assert.equal(r.files, 5);
  assert.ok(r.bytes > 3_000_000);
  assert.deepEqual(ran(runJson(clone, ['--no-remote'], S3_ENV)), []);
  assert.deepEqual(outputs(clone), outputs(origin));
});

test('s3: a corrupted blob and a record without its manifest are reported with their keys, not installed, and those stages run locally', () => {
  // The origin's results, pushed to a second prefix (s3rver keeps objects as plain files to damage).
  const dir = project(s3Config(s3, 'damaged'));
  copyFileSync(join(origin, 'fisherflow.lock'), join(dir, 'fisherflow.lock'));
  const pushed = cli(['push', '--store', join(origin, 'artifacts')], { cwd: dir, env: S3_ENV });
  assert.equal(pushed.code, 0, pushed.stderr);
  const big = objectFile('damaged', 'blobs').find((f) => readFileSync(f).length === 3_000_000)!;
  const bytes = readFileSync(big);
  bytes[1000] ^= 0xff;
  writeFileSync(big, bytes); // same size, other content: s3rver serves it as it is
  const lock = JSON.parse(readFileSync(join(origin, 'fisherflow.lock'), 'utf8')) as { stages: Record<string, { key: string }> };
  const noteRecord = JSON.parse(readFileSync(objectFile('damaged', 'runs').find((f) => f.includes(lock.stages.note.key))!, 'utf8')) as { tree: string };
  rmSync(objectFile('damaged', 'trees').find((f) => f.includes(noteRecord.tree))!);
  const clone = project(s3Config(s3, 'damaged'));
  const r = cli(['run'], { cwd: clone, env: S3_ENV });
  assert.equal(r.code, 0, r.stderr);
  const key = big.slice(big.indexOf('blobs/')).replace('._S3rver_object', '');
  assert.match(r.stdout, new RegExp(`data: remote 'shared': ${key} is corrupt: its content hashes to [0-9a-f]{16}…, not to its name; not installed, running the stage here`));
  assert.match(r.stdout, /note: remote 'shared': runs\/[0-9a-f]{2}\/[0-9a-f]{64}\.json names trees\/[0-9a-f]{2}\/[0-9a-f]{64}\.json, which is missing \(a record without its objects\); not installed, running the stage here/);
  assert.match(r.stdout, /ran 3, cached 0/);
});

test('s3: wrong credentials and a server that is down: clear errors; a local run goes on without the remote', () => {
  const denied = cli(['push'], { cwd: origin, env: { ...S3_ENV, AWS_ACCESS_KEY_ID: 'NOT-A-KEY' } });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /^fisherflow: remote 'shared': s3:\/\/ff-test\/main refused access \(listing [a-z]+\/[0-9a-f]{2}\/: InvalidAccessKeyId: .*\); check the credentials and the bucket's permissions\n$/);
  const down = project(`    url: s3://ff-test/down\n    endpoint: http://127.0.0.1:9\n    path_style: true\n`);
  // run --push with the server down: the stages run here; the failed push is the exit status.
  const r = cli(['run', '--push'], { cwd: down, env: S3_ENV });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /remote 'shared': s3:\/\/ff-test\/down is unreachable \(listing runs\/[0-9a-f]{2}\/: connect ECONNREFUSED 127\.0\.0\.1:9\); not using it for the rest of this command/);
  assert.match(r.stdout, /ran 3, cached 0/);
  assert.match(r.stderr, /push failed: remote 'shared': s3:\/\/ff-test\/down is unreachable/);
});
