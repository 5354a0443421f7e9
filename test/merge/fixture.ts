// Paths of the fusion fixtures (test/fixtures/fusion, made by make_fixtures.py there) and small
// helpers to run the merge stage and read what it wrote.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { repoRoot } from '../helpers/repo-root.js';
import { makeStageContext } from '../helpers/stage-context.js';
import { SafetensorsFile } from '../../ml/safetensors/format.js';
import { runMerge } from '../../stages/merge/stage.js';
import type { MergeInputs } from '../../stages/merge/inputs.js';

export const FUSION = join(repoRoot(), 'test', 'fixtures', 'fusion');
export const fixture = (name: string) => join(FUSION, name);

export function readTensors(file: string): Map<string, { shape: number[]; data: Float32Array }> {
  const f = SafetensorsFile.open(file);
  try {
    return new Map(f.names().map((n) => [n, { shape: f.info(n).shape, data: f.readFloat32(n) }]));
  } finally { f.close(); }
}

/** Runs the merge stage; returns its model folder. */
export async function merge(inputs: MergeInputs, chunkElements?: number): Promise<string> {
  const ctx = makeStageContext(inputs, { stage: 'merge' });
  await runMerge(ctx, chunkElements);
  return join(ctx.outDir, 'model');
}

/** The reference tensors of one merge in reference.safetensors (`average.<name>` → name). */
export function reference(prefix: string): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [n, t] of readTensors(fixture('reference.safetensors'))) if (n.startsWith(`${prefix}.`)) out.set(n.slice(prefix.length + 1), t.data);
  return out;
}

/** test/fixtures/torch_bert.py's tensor_digest: name, shape and float32 bytes, in name order. */
export function tensorDigest(tensors: Map<string, { shape: number[]; data: Float32Array }>): string {
  const h = createHash('sha256');
  for (const name of [...tensors.keys()].sort()) {
    const t = tensors.get(name)!;
    h.update(`${name}\0${JSON.stringify(t.shape).replace(/,/g, ', ')}\0`);
    h.update(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex');
}

/** Largest distance in float32 units in the last place between two arrays of the same length. */
export function maxUlps(a: Float32Array, b: Float32Array): number {
  const ia = new Int32Array(a.buffer, a.byteOffset, a.length);
  const ib = new Int32Array(b.buffer, b.byteOffset, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    // Map the sign-magnitude bit patterns onto a monotone integer line.
    const x = ia[i]! < 0 ? -2147483648 - ia[i]! : ia[i]!;
    const y = ib[i]! < 0 ? -2147483648 - ib[i]! : ib[i]!;
    worst = Math.max(worst, Math.abs(x - y));
  }
  return worst;
}
