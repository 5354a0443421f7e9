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

/** The paper's experiment: evaluate and overlap outputs of a fuse-to-forget.yaml run (fusion/copy_from_run.sh). */
export function fusionInputs() {
  const f = (name: string) => fixture(join('fusion', name));
  const pairs = ['tic-op', 'tic-st', 'op-st'];
  return {
    title: 'Fuse to Forget: what fused shortcut models keep and what they forget',
    fusion: {
      models: { st: f('model-st.json'), op: f('model-op.json'), tic: f('model-tic.json') },
      fused: { average: f('fused-average.json'), fisher: f('fused-fisher.json') },
    },
    interpolation: Object.fromEntries(pairs.flatMap((p) => ['0', '0.25', '0.5', '0.75', '1'].map((a) => [`${p},${a}`, f(`interpolation-${p},${a}.json`)]))),
    overlaps: Object.fromEntries(pairs.map((p) => [p, f(`overlap-${p}.json`)])),
    training: { tic: fixture('metrics-tic.json'), op: fixture('metrics-op.json'), st: fixture('metrics-st.json') },
  };
}
