// Exit codes as documented (0 ok, 1 a stage failed, 2 a usage or pipeline error), and read errors
// a user can cause (a folder given as the pipeline file, an unreadable file) are messages, not
// stack traces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, workspace } from '../helpers/cli.js';

const PIPELINE = 'params:\n  n: 1\nstages:\n  a:\n    run: echo ${{ params.n }} > a.txt\n    outs: [a.txt]\n';

function exits(ws: string, args: string[], code: number, pattern?: RegExp) {
  const r = cli(args, { cwd: ws });
  assert.equal(r.code, code, `fisherflow ${args.join(' ')} → ${r.code}\n${r.stderr}`);
  if (pattern) assert.match(r.stderr, pattern, args.join(' '));
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, `no stack trace: ${args.join(' ')}`);
}

test('usage errors exit 2: unknown options and subcommands, missing arguments, bad option values, bad --set', () => {
  const ws = workspace({ 'fisherflow.yaml': PIPELINE });
  exits(ws, ['run', '--bogus'], 2, /unknown option '--bogus'/);
  exits(ws, ['runn'], 2, /unknown command 'runn'/);
  exits(ws, ['exp', 'runn'], 2, /unknown command 'runn'/);
  exits(ws, ['metrics', 'shw'], 2);
  exits(ws, ['logs'], 2, /missing required argument/);
  exits(ws, ['diff', 'a', 'b', 'c'], 2, /diff takes at most two revisions, got a, b, c/);
  exits(ws, ['dag', '--format', 'bogus'], 2, /Allowed choices/);
  exits(ws, ['run', '-j', 'abc'], 2, /-j expects a whole number/);
  exits(ws, ['status', '--set'], 2, /argument missing/);
  exits(ws, ['run', '--set', 'n'], 2, /--set expects key=value, got 'n'/);
  exits(ws, ['run', '--set', '=1'], 2, /--set expects key=value/);
  exits(ws, ['run', '--set', 'a b=1'], 2, /is not a param key/);
  exits(ws, ['run', '--set', 'm=1'], 2, /--set m: the pipeline declares no param 'm'/);
  exits(ws, ['exp', 'run', '--set', 'n'], 2, /--set expects key=value/);
  exits(ws, ['run', '--force', 'nosuch'], 2, /--force: unknown stage 'nosuch'/);
  exits(ws, ['status', '--params', 'nope.yaml'], 2, /file not found: nope\.yaml/);
  exits(ws, [], 2);
  exits(ws, ['--help'], 0);
});

test('a stage failure exits 1; success 0', () => {
  const ws = workspace({ 'fisherflow.yaml': 'stages:\n  a:\n    run: exit 3\n' });
  exits(ws, ['run'], 1);
  exits(workspace({ 'fisherflow.yaml': PIPELINE }), ['run'], 0);
});

test('a folder given as the pipeline or params file, or an unreadable one, is a clear error (exit 2)', () => {
  const ws = workspace({ 'fisherflow.yaml': PIPELINE });
  mkdirSync(join(ws, 'sub'));
  writeFileSync(join(ws, 'sub', 'fisherflow.yaml'), PIPELINE);
  exits(ws, ['run', 'sub'], 2, /sub is a folder, not a pipeline or params file\nfisherflow:\s+hint: did you mean .*sub\/fisherflow\.yaml\?/);
  exits(ws, ['status', 'sub'], 2, /is a folder/);
  exits(ws, ['run', '--params', 'sub'], 2, /sub is a folder/);
  const empty = workspace({});
  mkdirSync(join(empty, 'fisherflow.yaml'));
  exits(empty, ['run'], 2, /fisherflow\.yaml is a folder/);
  mkdirSync(join(ws, 'fisherflow.lock'));
  exits(ws, ['run'], 2, /fisherflow\.lock is not a file/);
  if (process.getuid?.() !== 0) {
    const locked = workspace({ 'fisherflow.yaml': PIPELINE });
    chmodSync(join(locked, 'fisherflow.yaml'), 0o000);
    exits(locked, ['status'], 2, /cannot read .*fisherflow\.yaml: permission denied/);
  }
});
