// Per-epoch training checkpoints in the stage's work folder, for resume after an interruption.
//
// Layout: WORK/checkpoints/epoch-N/ = the model as save() writes it (config.json,
// model.safetensors), optimizer.safetensors (AdamW moments, step in the metadata) and
// trainer_state.json. A checkpoint is written to epoch-N.partial and renamed when complete, so an
// abort or crash mid-write never leaves a half checkpoint under a final name; older epochs are
// removed only after the new one is in place.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors } from '../../ml/safetensors/format.js';
import type { AdamW } from '../../ml/optim/adamw.js';
import type { TrainableModel } from './model-api.js';
import type { CurvePoint, EpochMetrics } from './metrics.js';

export interface TrainerState {
  version: 1;
  /** Hash of everything that shapes the run; a checkpoint with another fingerprint is ignored. */
  fingerprint: string;
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps completed. */
  step: number;
  epochs: EpochMetrics[];
  curve: CurvePoint[];
}

const EPOCH_DIR = /^epoch-(\d+)$/;

export function checkpointsDir(workDir: string): string {
  return join(workDir, 'checkpoints');
}

export async function saveEpochCheckpoint(workDir: string, state: TrainerState, model: TrainableModel, optimizer: AdamW): Promise<string> {
  const root = checkpointsDir(workDir);
  const final = join(root, `epoch-${state.epoch}`);
  const tmp = `${final}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await model.save(tmp);
  writeSafetensors(join(tmp, 'optimizer.safetensors'), await optimizer.stateArrays(), { step: String(optimizer.stepCount) });
  writeFileSync(join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 1));
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  for (const name of readdirSync(root)) {
    const m = EPOCH_DIR.exec(name);
    if (name !== `epoch-${state.epoch}` && (m || name.endsWith('.partial'))) rmSync(join(root, name), { recursive: true, force: true });
  }
  return final;
}

/** The newest complete checkpoint with this fingerprint, if any. */
export function findLatestCheckpoint(workDir: string, fingerprint: string): { dir: string; state: TrainerState } | null {
  const root = checkpointsDir(workDir);
  if (!existsSync(root)) return null;
  const epochs = readdirSync(root)
    .map((n) => EPOCH_DIR.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  for (const e of epochs) {
    const dir = join(root, `epoch-${e}`);
    try {
      const state = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')) as TrainerState;
      if (state.version !== 1 || state.fingerprint !== fingerprint || state.epoch !== e) continue;
      if (!existsSync(join(dir, 'optimizer.safetensors')) || !existsSync(join(dir, 'model.safetensors'))) continue;
      return { dir, state };
    } catch {
      continue; // unreadable: fall back to an older one, or start over
    }
  }
  return null;
}

export function loadOptimizerState(dir: string, optimizer: AdamW): void {
  const f = SafetensorsFile.open(join(dir, 'optimizer.safetensors'));
  try {
    const tensors = new Map<string, { data: Float32Array; shape: number[] }>();
    for (const name of f.names()) tensors.set(name, { data: f.readFloat32(name), shape: f.info(name).shape });
    optimizer.loadState(Number(f.metadata.step ?? 0), tensors);
  } finally {
    f.close();
  }
}
