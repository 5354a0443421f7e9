// The project configuration (fisherflow.config.yaml, committed; .fisherflow/config.yaml, local):
// merged key by key, validated with file:line:column, and what it and the pipeline say about
// executors and cluster resources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProjectConfig } from '../../src/config/project-config.js';
import { slurmSettings } from '../../src/exec/slurm/settings.js';
import { executorSettings } from '../../src/run/executors.js';
import { cli, workspace } from '../helpers/cli.js';
import { openWorkspace } from '../../src/plan/workspace.js';
import type { UserError } from '../../src/errors.js';

function project(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'ff-config-'));
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), text);
  }
  return root;
}

test('no config file: defaults; the local file merges over the committed one key by key', () => {
  const none = loadProjectConfig(project({}));
  assert.deepEqual(none.value, {});
  assert.equal(executorSettings(project({}), {}).executor, 'local');

  const root = project({
    'fisherflow.config.yaml': 'executor: slurm\nslurm:\n  partition: gpu\n  account: shared\n  options: [--mail-type=FAIL]\n',
    '.fisherflow/config.yaml': '# my own\nslurm:\n  account: mine\n  options: [--qos=high]\n',
  });
  const c = loadProjectConfig(root);
  assert.deepEqual(c.value, { executor: 'slurm', slurm: { partition: 'gpu', account: 'mine', options: ['--qos=high'] } });
  assert.deepEqual(c.locate(['slurm', 'account']), { file: join(root, '.fisherflow', 'config.yaml'), line: 3, column: 12 });
  assert.deepEqual(c.locate(['slurm', 'partition']), { file: join(root, 'fisherflow.config.yaml'), line: 3, column: 14 });
  const s = slurmSettings(c);
  assert.deepEqual(s.job, { partition: 'gpu', account: 'mine', options: ['--qos=high'] });
  assert.deepEqual([s.maxJobs, s.pollMinMs, s.pollMaxMs, s.resultWaitMs, s.stopBeforeLimitS, s.resubmit], [100, 1000, 10_000, 60_000, 60, 2]);
  assert.match(s.command, /^'.*node.*' '.*\/bin\/fisherflow\.js'$/);
  // -j sizes the Slurm queue when the run's executor is slurm, the local CPU slots otherwise.
  assert.deepEqual([executorSettings(root, { jobs: 7 }).slurmMaxJobs, executorSettings(root, { jobs: 7 }).jobs], [7, undefined]);
  assert.deepEqual([executorSettings(root, { jobs: 7, executor: 'local' }).slurmMaxJobs, executorSettings(root, { jobs: 7, executor: 'local' }).jobs], [undefined, 7]);
  assert.equal(slurmSettings(c, { maxJobs: 7 }).maxJobs, 7);
});

test('config mistakes name the file, line and column', () => {
  const bad = (text: string, re: RegExp, local = false) => {
    const root = project({ [local ? '.fisherflow/config.yaml' : 'fisherflow.config.yaml']: text });
    assert.throws(() => slurmSettings(loadProjectConfig(root)), (e: Error & { format?: () => string }) => {
      assert.match(e.format!(), re);
      return true;
    });
  };
  bad('slurm:\n  partiton: gpu\n', /fisherflow\.config\.yaml:2:3: unknown key 'partiton' \(did you mean 'partition'\?\)/);
  bad('executor: slurmm\n', /fisherflow\.config\.yaml:1:11: executor must be one of "local", "slurm"/);
  bad('slurm:\n  poll_max: soon\n', /config\.yaml:2:13: slurm\.poll_max: expected a duration such as "90s", "30min", "2h" or "1d", got "soon"/, true);
  bad('slurm:\n  max_jobs: 0\n', /fisherflow\.config\.yaml:2:13: slurm\.max_jobs must be >= 1/);
  bad('slurm: [a\n', /fisherflow\.config\.yaml:\d+:\d+: YAML syntax error/);
});

test('the pipeline: memory, time, executor and slurm: are checked where they are written', async () => {
  const expect = async (stage: string, re: RegExp) => {
    const ws = workspace({ 'fisherflow.yaml': `stages:\n  a:\n    run: echo hi\n${stage}` });
    await assert.rejects(openWorkspace(join(ws, 'fisherflow.yaml')), (e: UserError) => {
      assert.equal(e.exitCode, 2);
      assert.match(e.format(), re);
      return true;
    });
  };
  await expect('    resources: { memory: "16" }\n', /fisherflow\.yaml:4:26: resources\.memory: expected a size with a unit such as "20GB", "20GiB" or "512MiB", got "16"/);
  await expect('    resources: { time: 2 hours }\n', /fisherflow\.yaml:4:24: resources\.time: expected a time limit such as "2h", "90min", "1d" or Slurm's "HH:MM:SS", "D-HH:MM:SS", got "2 hours"/);
  await expect('    executor: cluster\n', /fisherflow\.yaml:4:15: stages\.a\.executor must be one of "local", "slurm"/);
  await expect('    slurm: { partion: gpu }\n', /fisherflow\.yaml:4:14: unknown key 'partion' \(did you mean 'partition'\?\)/);
  await expect('    slurm: { options: [exclusive] }\n', /fisherflow\.yaml:4:24: stages\.a\.slurm\.options\[0\] must match pattern/);
  // Where a stage runs, and its cluster resources, do not change its key: nothing reruns.
  const ws = workspace({ 'fisherflow.yaml': 'stages:\n  a:\n    run: echo hi > a.txt\n    outs: [a.txt]\n' });
  assert.equal(cli(['run'], { cwd: ws }).code, 0);
  writeFileSync(join(ws, 'fisherflow.yaml'), 'stages:\n  a:\n    run: echo hi > a.txt\n    outs: [a.txt]\n    executor: local\n    slurm: { partition: gpu }\n    resources: { memory: 2GB, time: 1h }\n');
  assert.match(cli(['status'], { cwd: ws }).stdout, /up-to-date\s+a/);
});

test('a bad executor on the command line or in the config stops the run before anything runs', () => {
  const ws = workspace({ 'fisherflow.yaml': 'stages:\n  a:\n    run: echo hi\n', 'fisherflow.config.yaml': 'executor: local\nslurm: { result_wait: never }\n' });
  let r = cli(['run', '--executor', 'cloud'], { cwd: ws });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /option '--executor <name>' argument 'cloud' is invalid\. Allowed choices are local, slurm/);
  r = cli(['run', '--executor', 'slurm'], { cwd: ws });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /fisherflow\.config\.yaml:2:23: slurm\.result_wait: expected a duration/);
});
