// Every user mistake gets file:line:column and what was expected; nothing runs, no stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, openSync, ftruncateSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { cli, workspace } from '../helpers/cli.js';

function expectError(yaml: string, pattern: RegExp, files: Record<string, string> = {}, args: string[] = ['run']) {
  const ws = workspace({ 'fisherflow.yaml': yaml, ...files });
  const r = cli(args, { cwd: ws });
  assert.notEqual(r.code, 0, `expected failure, got ${r.stdout}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, 'no stack trace');
  assert.equal(existsSync(join(ws, 'artifacts', 'runs')), false, 'nothing ran');
  return r.stderr;
}

test('YAML syntax error names line and column', () => {
  expectError('stages:\n  a:\n    run: echo hi\n   bad: [1, 2\n', /fisherflow\.yaml:\d+:\d+: YAML syntax error/);
});

test('schema violation names the key', () => {
  expectError('stages:\n  a:\n    run: echo hi\n    retries: many\n', /fisherflow\.yaml:4:14: stages\.a\.retries must be integer/);
  expectError('stages:\n  a:\n    run: echo hi\n    outz: [x]\n', /fisherflow\.yaml:4:5: unknown key 'outz' \(did you mean 'outs'\?\)/);
  expectError('stagse:\n  a:\n    run: echo hi\n', /fisherflow\.yaml:1:1: unknown key 'stagse' \(did you mean 'stages'\?\)/);
});

test('unknown stage type, with a suggestion', () => {
  expectError('stages:\n  a:\n    uses: wrtie\n    with: { text: x }\n', /fisherflow\.yaml:3:11: unknown stage type 'wrtie' \(did you mean 'write'\?\)/);
});

test('unknown input of a built-in, with a suggestion', () => {
  expectError('stages:\n  a:\n    uses: write\n    with: { txt: x }\n', /fisherflow\.yaml:4:13: unknown input 'txt' \(did you mean 'text'\?\)/);
});

test('unknown param, with a suggestion', () => {
  expectError('params:\n  rate: 1\nstages:\n  a:\n    run: echo ${{ params.raet }}\n', /fisherflow\.yaml:5:10: unknown param 'raet' \(did you mean 'rate'\?\)/);
  expectError('params:\n  rate: 1\nstages:\n  a:\n    run: echo hi\n', /--set raet: the pipeline declares no param 'raet' \(did you mean 'rate'\?\)/, {}, ['run', '--set', 'raet=2']);
});

test('unknown stage reference, with a suggestion', () => {
  expectError('stages:\n  prepare:\n    run: echo > p.txt\n    outs: [p.txt]\n  use:\n    run: cat ${{ stages.prepar.outputs.p }}\n', /fisherflow\.yaml:6:10: 'stages\.prepar\.outputs\.p' refers to an unknown stage 'prepar' \(did you mean 'prepare'\?\)/);
  expectError('stages:\n  prepare:\n    uses: write\n    with: { text: x }\n  use:\n    run: cat ${{ stages.prepare.outputs.fil }}\n', /has no output 'fil' \(did you mean 'file'\?\)/);
});

test('a cycle is printed as a → b → c → a', () => {
  expectError(
    'stages:\n  a:\n    run: cat c.txt > a.txt\n    deps: [c.txt]\n    outs: [a.txt]\n  b:\n    run: cat a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n  c:\n    run: cat b.txt > c.txt\n    deps: [b.txt]\n    outs: [c.txt]\n',
    /fisherflow\.yaml:2:3: dependency cycle: a → b → c → a/,
  );
});

test('two stages writing the same output', () => {
  expectError('stages:\n  a:\n    run: echo > x.txt\n    outs: [x.txt]\n  b:\n    run: echo > x.txt\n    outs: [x.txt]\n', /fisherflow\.yaml:5:3: stages 'a' and 'b' both write 'x\.txt'/);
  expectError('stages:\n  a:\n    run: mkdir -p d && echo > d/x\n    outs: [d]\n  b:\n    run: echo > d/y\n    outs: [d/y]\n', /stages 'a' and 'b' both write 'd\/y' \('d' contains it\)/);
});

test('a missing dep file', () => {
  expectError('stages:\n  a:\n    run: cat input.txt\n    deps: [input.txt]\n', /fisherflow\.yaml:4:12: stage 'a': dep 'input\.txt' does not exist \(and no stage produces it\)/);
  expectError('stages:\n  a:\n    uses: copy\n    with: { path: nowhere.txt }\n', /fisherflow\.yaml:4:19: stage 'a': input 'path' names .*nowhere\.txt, which does not exist/);
});

test('hostile YAML is refused cleanly: alias bombs, __proto__, huge files', () => {
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 0; i < 8; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
  bomb.push('stages: {}');
  expectError(bomb.join('\n'), /refusing this YAML: .*alias/i);
  expectError('stages:\n  a:\n    run: echo\n    env:\n      __proto__: { polluted: 1 }\n', /fisherflow\.yaml:5:7: the key '__proto__' is not allowed/);
  const ws = workspace({});
  const big = join(ws, 'fisherflow.yaml');
  writeFileSync(big, 'stages: {}\n');
  const fd = openSync(big, 'r+');
  ftruncateSync(fd, 100 * 1024 * 1024);
  closeSync(fd);
  const r = cli(['status'], { cwd: ws });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /fisherflow\.yaml is 100\.0 MB; a pipeline or params file may be at most 4 MB/);
});

test('a stage that needs a GPU fails up front when there is none', () => {
  expectError('stages:\n  a:\n    run: echo hi\n    resources: { gpu: 1 }\n', /fisherflow\.yaml:4:16: .*stage a.* GPU/);
});

test('several schema errors are reported together', () => {
  const err = expectError('stages:\n  a:\n    run: 1\n    retries: -1\n  b:\n    deps: 3\n    run: x\n', /retries must be >= 0/);
  assert.match(err, /stages\.b\.deps must be array/);
});
