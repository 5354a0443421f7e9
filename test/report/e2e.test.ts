// The report stage inside a real `fisherflow run`: the engine validates its inputs, hands it the
// pipeline snapshot, and the report shows the DAG and the lock-file keys of that run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/stage-context.js';
import { fixture, repoRoot } from './fixture-paths.js';
import { shortKey } from '../../stages/report/page.js';

const PIPELINE = `params:
  take: 200
stages:
  note:
    uses: write
    with:
      text: hello
  report:
    uses: report
    needs: [note]
    with:
      title: End-to-end report
      overlap: overlap.json
      training:
        tic: metrics-tic.json
`;

function cli(dir: string, ...args: string[]): string {
  return execFileSync(process.execPath, [join(repoRoot(), 'bin', 'fisherflow.js'), ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
}

test('fisherflow run: the report gets the pipeline snapshot and shows its DAG and lock keys', { timeout: 90_000 }, () => {
  const dir = tempDir('ff-report-e2e-');
  copyFileSync(fixture('overlap-bert12.json'), join(dir, 'overlap.json'));
  copyFileSync(fixture('metrics-tic.json'), join(dir, 'metrics-tic.json'));
  writeFileSync(join(dir, 'p.yaml'), PIPELINE);

  cli(dir, 'run', 'p.yaml');
  const reportPath = cli(dir, 'show', 'report.report', 'p.yaml').trim();
  const html = readFileSync(reportPath, 'utf8');
  const lock = JSON.parse(readFileSync(join(dir, 'p.lock'), 'utf8')) as { stages: Record<string, { key: string }> };

  assert.match(html, /<title>End-to-end report<\/title>/);
  assert.match(html, /data-chart="dag"/);
  assert.match(html, /UNSHARED \(TiC-OP\) OVERLAP: 0\.7241/);
  assert.ok(html.includes(`>${shortKey(lock.stages.note!.key)}<`), 'the lock key of an upstream stage is in the report');
  assert.match(html, /<code>take<\/code>/, 'params are in the report');
});
