// The remote's pieces in-process: a resumable multipart upload resumed after a failure, retries on
// 503 SlowDown (through a proxy that fails on purpose, since s3rver never does), what a pull refuses
// to trust, and the project config's layers and errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Remote } from '../../src/cache/remote/s3.js';
import { RemoteError } from '../../src/cache/remote/remote-store.js';
import { parseManifest, parseRecord } from '../../src/cache/remote/layout.js';
import { readDocument } from '../../src/cache/remote/pull.js';
import { ContentStore } from '../../src/cache/store.js';
import { loadProjectConfig } from '../../src/config/project-config.js';
import { chooseRemote, remoteSettings } from '../../src/cache/remote/remote-config.js';
import { UserError } from '../../src/errors.js';
import { startS3, type TestS3 } from '../helpers/s3rver.js';

let s3: TestS3;
/** A proxy in front of s3rver: `failWith(req)` may answer a request with an S3 error instead. */
let proxy: Server;
let proxyPort = 0;
let failWith: (method: string, url: string) => { status: number; code: string } | undefined = () => undefined;
const seen: string[] = [];

before(async () => {
  s3 = await startS3();
  Object.assign(process.env, { ...s3.env, AWS_EC2_METADATA_DISABLED: 'true' });
  proxy = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const fail = failWith(req.method!, req.url!);
    if (fail) {
      req.resume();
      res.writeHead(fail.status, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fail.code}</Code><Message>injected by the test</Message></Error>`);
      return;
    }
    const up = request({ host: '127.0.0.1', port: s3.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyPort = (proxy.address() as AddressInfo).port;
});
after(async () => {
  proxy.close();
  await s3.stop();
});

const MiB = 1024 * 1024;

async function remote(journalDir: string): Promise<S3Remote> {
  return S3Remote.open('t', { url: `s3://${s3.bucket}/units`, endpoint: `http://127.0.0.1:${proxyPort}`, pathStyle: true, multipartThreshold: MiB, partSize: MiB, partConcurrency: 2, journalDir });
}

test('multipart: an upload that failed midway resumes from its journal and sends only the missing parts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-mpu-'));
  const file = join(dir, 'big.bin');
  const data = randomBytes(5 * MiB + 123);
  writeFileSync(file, data);
  const sha = createHash('sha256').update(data).digest('hex');
  const journal = join(dir, 'journal');
  const r = await remote(journal);
  // Part 3 is refused (not retryable): parts 1 and 2 are stored and journaled.
  failWith = (m, url) => (m === 'PUT' && /partNumber=3(&|$)/.test(url) ? { status: 403, code: 'AccessDenied' } : undefined);
  let sent = 0;
  await assert.rejects(r.writeFile('blobs/big', file, { size: data.length, sha256: sha, onBytes: (n) => (sent += n) }), (e: RemoteError) => e.problem === 'denied');
  assert.equal(readdirSync(journal).length, 1);
  assert.ok(sent >= 2 * MiB);
  failWith = () => undefined;
  let sentAgain = 0;
  let resumed = 0;
  await r.writeFile('blobs/big', file, { size: data.length, sha256: sha, onBytes: (n) => (sentAgain += n), onResumed: (n) => (resumed += n) });
  assert.equal(resumed, sent, 'the parts stored before the failure are not sent again');
  assert.equal(sentAgain + resumed, data.length);
  assert.deepEqual(readdirSync(journal), [], 'the journal is removed once the upload completes');
  const back = await readDocument(r, 'blobs/big');
  assert.equal(createHash('sha256').update(back!).digest('hex'), sha);
  r.close();
});

test('retries: 503 SlowDown is retried with backoff; a 404 is an answer, not an error', async () => {
  const r = await remote(mkdtempSync(join(tmpdir(), 'ff-retry-')));
  let failures = 2;
  failWith = (m, url) => (m === 'PUT' && url.includes('runs/retry') && failures-- > 0 ? { status: 503, code: 'SlowDown' } : undefined);
  seen.length = 0;
  await r.writeBytes('runs/retry.json', Buffer.from('{}'));
  assert.equal(seen.filter((s) => s.startsWith('PUT') && s.includes('runs/retry')).length, 3);
  assert.equal((await readDocument(r, 'runs/retry.json'))?.toString(), '{}');
  assert.equal(await readDocument(r, 'runs/none.json'), undefined);
  failWith = () => undefined;
  r.close();
});

test('a pull trusts nothing: paths that leave the folder, a record of another key, files that do not hash to the tree', () => {
  const tree = 'a'.repeat(64);
  const manifest = (files: unknown) => Buffer.from(JSON.stringify({ version: 1, tree, files, dirs: [] }));
  assert.throws(() => parseManifest('r', 'trees/aa/x.json', manifest([['../../.bashrc', 1, 'b'.repeat(64)]]), tree), /not a valid tree manifest: bad file entry/);
  assert.throws(() => parseManifest('r', 'trees/aa/x.json', manifest([['/etc/passwd', 1, 'b'.repeat(64)]]), tree), /bad file entry/);
  assert.throws(() => parseManifest('r', 'trees/aa/x.json', Buffer.from('{"version":1,"tr'), tree), /is not valid JSON \(damaged or truncated\)/);
  const record = { version: 1, key: 'c'.repeat(64), tree, outputs: { out: { path: 'x', kind: 'file', hash: 'd'.repeat(64) } }, files: [] };
  assert.throws(() => parseRecord('r', 'runs/cc/y.json', Buffer.from(JSON.stringify(record)), 'e'.repeat(64)), /is the record of key cccccccccccc…/);
  // The store installs only folders that hash to the record's tree, and outputs to their hashes.
  const store = new ContentStore(mkdtempSync(join(tmpdir(), 'ff-install-')));
  const staging = store.staging('t');
  writeFileSync(join(staging, 'x'), 'hello');
  assert.throws(() => store.install({ ...record, stage: 's', type: 't', seconds: 0, createdAt: '' } as never, staging), /its files hash to tree [0-9a-f]{12}…, not aaaaaaaaaaaa…/);
  assert.equal(existsSync(store.objectDir(tree)), false);
  assert.equal(store.hasRecord(record.key), false);
});

test('config: the local file overrides the project file key by key; mistakes name the file, line and column', () => {
  const root = mkdtempSync(join(tmpdir(), 'ff-config-'));
  mkdirSync(join(root, '.fisherflow'));
  writeFileSync(join(root, 'fisherflow.config.yaml'), 'remotes:\n  lab: { url: "s3://lab-bucket/ff", region: eu-west-1 }\n  nfs: { url: /shared/cache }\nremote:\n  default: lab\n');
  writeFileSync(join(root, '.fisherflow', 'config.yaml'), 'remotes:\n  lab: { profile: me }\nremote:\n  push: true\n');
  const settings = remoteSettings(loadProjectConfig(root), root);
  assert.deepEqual({ ...settings.remotes.get('lab') }, { name: 'lab', kind: 's3', url: 's3://lab-bucket/ff', path: undefined, region: 'eu-west-1', endpoint: undefined, pathStyle: undefined, profile: 'me', multipartThreshold: undefined, partSize: undefined, concurrency: undefined });
  assert.equal(settings.remotes.get('nfs')!.path, '/shared/cache');
  assert.equal(settings.push, true);
  assert.equal(chooseRemote(settings, undefined, {})!.name, 'lab');
  assert.equal(chooseRemote(settings, undefined, { FISHERFLOW_REMOTE: 'nfs' })!.name, 'nfs');
  assert.equal(chooseRemote(settings, false, {}), undefined);
  assert.throws(() => chooseRemote(settings, 'labb', {}), /--remote: no remote named 'labb' \(did you mean 'lab'\?\); declared: lab, nfs/);
  const fails = (project: string, local: string, re: RegExp) => {
    writeFileSync(join(root, 'fisherflow.config.yaml'), project);
    writeFileSync(join(root, '.fisherflow', 'config.yaml'), local);
    assert.throws(() => remoteSettings(loadProjectConfig(root), root), (e: UserError) => {
      assert.match(e.format(), re);
      return true;
    });
  };
  fails('remotes:\n  lab:\n    url: s3://b/p\n    regoin: x\n', '', /fisherflow\.config\.yaml:4:5: .*regoin.*\(did you mean 'region'\?\)/);
  fails('remotes:\n  lab: { url: "https://example.com/x" }\n', '', /fisherflow\.config\.yaml:2:15: remote 'lab': unsupported URL/);
  fails('remote:\n  default: lab\n', '', /fisherflow\.config\.yaml:2:12: remote\.default: no remote named 'lab'/);
  fails('remotes:\n  lab: { url: /x }\n', 'remotes:\n  lab: { region: x }\n', /config\.yaml:2:18: remote 'lab': `region` applies to s3:\/\/ remotes only/);
  fails('remotes:\n  lab: { url: "s3://bkt/p", part_size: 5 parsecs }\n', '', /fisherflow\.config\.yaml:2:40: remote 'lab': part_size: unknown unit "parsecs"/);
  fails('remotes:\n  lab: { region: x }\n', '', /fisherflow\.config\.yaml:2:8: remote 'lab' has no `url:`/);
});
