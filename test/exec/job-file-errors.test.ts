// `fisherflow exec-stage` with a job file that is missing, not JSON, or the wrong shape: a
// usage error (exit 2) naming the file and what was expected, never a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';

test('exec-stage: a malformed job file is a usage error naming the file and the field, without a stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-job-'));
  const job = join(dir, 'job.json');
  const cases: Array<[string | null, RegExp]> = [
    [null, /cannot read job file: ENOENT: no such file or directory/],
    ['{"stage": "x",', /cannot read job file: .*JSON/],
    ['[1, 2]', /expected a JSON object/],
    [JSON.stringify({ stage: 'x', cwd: dir, logFile: 'x.log', work: { kind: 'docker' } }), /"work.kind" must be "command" or "builtin"/],
    [JSON.stringify({ stage: 'x', cwd: dir, logFile: 'x.log', work: { kind: 'builtin', modulePath: 'm.js', outDir: 'o', workDir: 'w' } }), /"work.inputs" must be an object/],
  ];
  for (const [text, expected] of cases) {
    const file = text === null ? join(dir, 'missing.json') : job;
    if (text !== null) writeFileSync(job, text);
    const r = cli(['exec-stage', file], { cwd: dir });
    assert.equal(r.code, 2, `${text}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(`fisherflow: ${file}: `), r.stderr);
    assert.match(r.stderr, expected);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  }
});
