// Shell quoting of template values in commands (unit level; the CLI cases are in command-templates.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { renderCommand, shellText, artifactPlaceholder, substituteCommandRefs } from '../../src/pipeline/template.js';

const bash = (cmd: string) => spawnSync('bash', ['-c', cmd], { encoding: 'utf8' }).stdout;

test('shellText: a value reads back as itself in a bare word, in "..." and in \'...\'', () => {
  for (const v of ['plain', 'a b', `it's "q"`, '$(touch /nonexistent/x); `id`', 'back\\slash $HOME', '*.txt ~ !x', '']) {
    assert.equal(bash(`printf %s ${shellText(v, 'word')}`), v);
    assert.equal(bash(`printf %s "${shellText(v, 'double')}"`), v);
    assert.equal(bash(`printf %s '${shellText(v, 'single')}'`), v);
  }
  assert.equal(shellText('data/x-1.tsv', 'word'), 'data/x-1.tsv', 'plain words stay readable (and keep their keys)');
});

test('renderCommand: quoting follows the quotes around each template; lists are words; | raw pastes', () => {
  const values: Record<string, unknown> = { v: 'a b', list: ['x y', 'z'], flags: '-n 2', fam: { a: artifactPlaceholder({ stage: 'c@a', output: 'o' }), b: artifactPlaceholder({ stage: 'c@b', output: 'o' }) } };
  const ev = (e: { segments: Array<{ kind: string; value?: string }> }) => values[e.segments[1].value!];
  assert.equal(renderCommand('echo ${{ params.v }} "${{ params.v }}" \'${{ params.v }}\'', ev), `echo 'a b' "a b" 'a b'`);
  assert.equal(renderCommand('ls ${{ params.list }}', ev), `ls 'x y' z`);
  assert.equal(renderCommand('head ${{ params.flags | raw }} f', ev), 'head -n 2 f');
  // Artifact paths are quoted when they are known (at run time), as their place asks.
  const cmd = renderCommand('cat ${{ params.fam }} "${{ params.fam }}"', ev);
  assert.equal(substituteCommandRefs(cmd, (r) => `/my project/${r.stage}`), `cat '/my project/c@a' '/my project/c@b' "/my project/c@a /my project/c@b"`);
});
