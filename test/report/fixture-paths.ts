// Locates repo files from the test file itself (works from test/ under tsx and from dist/test/),
// so the tests do not depend on the cwd.
import { repoRoot } from '../helpers/repo-root.js';
export { repoRoot };
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PipelineSnapshot } from '../../src/stage/api.js';

export function fixture(name: string): string {
  return join(repoRoot(), 'test', 'fixtures', 'report', name);
}

export function pipelineFixture(): PipelineSnapshot {
  return JSON.parse(readFileSync(fixture('pipeline.json'), 'utf8')) as PipelineSnapshot;
}

/** The full demo-like report inputs: one overlap file, three trained models. */
export function fullInputs() {
  return {
    overlap: fixture('overlap-bert12.json'),
    training: { tic: fixture('metrics-tic.json'), op: fixture('metrics-op.json'), st: fixture('metrics-st.json') },
    title: 'Fisher overlap — TiC, OP and ST shortcut models',
  };
}
