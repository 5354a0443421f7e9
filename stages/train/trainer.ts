// The training loop: seeded order, AdamW + linear warm-up/decay, global-norm clipping, dropout on,
// evaluation and a checkpoint after every epoch, resume from the newest checkpoint.
import { createHash } from 'node:crypto';
import type { TokenizedRow } from '../../ml/bert/batch.js';
import { makeBatch } from '../../ml/bert/batch.js';
import { AdamW } from '../../ml/optim/adamw.js';
import { clipCoefficient, readGlobalGradNorm } from '../../ml/optim/clip.js';
import { disposeGradients } from '../../ml/optim/gradient.js';
import { linearWarmupDecay, warmupStepsFor } from '../../ml/optim/schedule.js';
import { findLatestCheckpoint, loadOptimizerState, saveEpochCheckpoint, type TrainerState } from './checkpoint.js';
import { epochOrder, lengthGroupedOrder, stepSeed } from './data-order.js';
import { evaluate } from '../../ml/bert/evaluate.js';
import { evalMetrics, type EpochMetrics, type EvalMetrics, type TrainMetrics } from './metrics.js';
import type { TrainableModel } from './model-api.js';

export interface TrainSettings {
  epochs: number;
  batchSize: number;
  evalBatchSize: number;
  learningRate: number;
  weightDecay: number;
  warmupSteps?: number;
  warmupRatio?: number;
  /** 0 or Infinity turns clipping off. */
  maxGradNorm: number;
  seed: number;
  /** Pad every batch to this length (`padding: max_length`); undefined pads to the batch's longest row. */
  padTo?: number;
  padId: number;
  /** Steps per point of the loss curve. */
  loggingSteps: number;
  /** Batch rows of similar length (HF `group_by_length`): less padding, same data per epoch. */
  groupByLength?: boolean;
  adamBetas?: [number, number];
  adamEpsilon?: number;
}

export interface TrainJob {
  settings: TrainSettings;
  train: TokenizedRow[];
  evalSets: Record<string, TokenizedRow[]>;
  workDir: string;
  /** A fresh model (from a config or a pretrained folder); called only when no checkpoint matches. */
  createModel(): Promise<TrainableModel>;
  /** Reloads a model from an epoch checkpoint folder. */
  loadModel(dir: string): Promise<TrainableModel>;
  /** Anything else that shapes the run (model source, config), for the checkpoint fingerprint. */
  fingerprintExtra?: unknown;
  log(message: string): void;
  progress(done: number, total: number, note?: string): void;
  signal: AbortSignal;
  /** Least time between progress reports (default 250 ms); the last step of an epoch always reports. */
  progressIntervalMs?: number;
}

export interface TrainResult {
  model: TrainableModel;
  metrics: TrainMetrics;
  /** Epochs skipped because a checkpoint had them. */
  resumedEpochs: number;
}

export function runFingerprint(job: Pick<TrainJob, 'settings' | 'train' | 'evalSets' | 'fingerprintExtra'>): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ settings: job.settings, extra: job.fingerprintExtra ?? null }));
  h.update(JSON.stringify({ n: job.train.length, eval: Object.entries(job.evalSets).map(([k, v]) => [k, v.length]) }));
  // A cheap content check of the data: lengths and labels of all rows.
  for (const r of job.train) h.update(`${r.input_ids.length}:${r.labels ?? r.label};`);
  return h.digest('hex');
}

/**
 * Lets queued events run: the worker's abort message and progress sends arrive as events, and a
 * training loop of synchronous steps would otherwise hold them until the end.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function runTraining(job: TrainJob): Promise<TrainResult> {
  const s = job.settings;
  const n = job.train.length;
  const stepsPerEpoch = Math.ceil(n / s.batchSize);
  const totalSteps = stepsPerEpoch * s.epochs;
  const warmup = warmupStepsFor(totalSteps, { warmupSteps: s.warmupSteps, warmupRatio: s.warmupRatio });
  const fingerprint = runFingerprint(job);
  const lengths = job.train.map((r) => r.input_ids.length);

  const found = findLatestCheckpoint(job.workDir, fingerprint);
  const model = found ? await job.loadModel(found.dir) : await job.createModel();
  const resumedEpochs = found?.state.epoch ?? 0;
  const state: TrainerState = found?.state ?? { version: 1, fingerprint, epoch: 0, step: 0, epochs: [], curve: [] };
  const optimizer = new AdamW(model.params, { weightDecay: s.weightDecay, betas: s.adamBetas, eps: s.adamEpsilon });
  try {
    if (found) {
      loadOptimizerState(found.dir, optimizer);
      job.log(`resuming from ${found.dir}: ${state.epoch} of ${s.epochs} epochs done (step ${state.step})`);
    }
    job.log(`training on ${n} examples: ${s.epochs} epochs × ${stepsPerEpoch} steps of ${s.batchSize}, lr ${s.learningRate}, warm-up ${warmup} steps, ${s.padTo ? `padding to ${s.padTo}` : 'dynamic padding'}`);

    const totalExamples = n * s.epochs;
    let lastProgress = 0;
    for (let epoch = state.epoch; epoch < s.epochs; epoch++) {
      const shuffled = epochOrder(n, s.seed, epoch);
      const order = s.groupByLength ? lengthGroupedOrder(shuffled, lengths, s.batchSize) : shuffled;
      const t0 = performance.now();
      let lossSum = 0;
      let windowSum = 0;
      let windowSteps = 0;
      let lr = 0;
      for (let b = 0; b < stepsPerEpoch; b++) {
        // Abort between steps only: the newest epoch checkpoint stays as it was.
        await yieldToEventLoop();
        job.signal.throwIfAborted();
        const rows: TokenizedRow[] = [];
        for (let i = b * s.batchSize; i < Math.min(n, (b + 1) * s.batchSize); i++) rows.push(job.train[order[i]]);
        const batch = makeBatch(rows, { padTo: s.padTo, padId: s.padId });
        lr = s.learningRate * linearWarmupDecay(state.step, warmup, totalSteps);
        const { loss, grads } = await model.lossAndGrads(batch, { training: true, seed: stepSeed(s.seed, state.step), sparseEmbeddingGrads: true });
        if (!Number.isFinite(loss)) {
          disposeGradients(grads);
          throw new Error(`training diverged: loss is ${loss} at step ${state.step + 1} (epoch ${epoch + 1}); lower learning_rate or check the data`);
        }
        // Clipping is fused into the update: AdamW scales each gradient by the coefficient.
        optimizer.step(grads, lr, clipCoefficient(await readGlobalGradNorm(grads), s.maxGradNorm));
        disposeGradients(grads);
        state.step++;
        lossSum += loss;
        windowSum += loss;
        windowSteps++;
        if (windowSteps === s.loggingSteps || b === stepsPerEpoch - 1) {
          state.curve.push({ step: state.step, loss: windowSum / windowSteps });
          windowSum = 0;
          windowSteps = 0;
        }
        const now = performance.now();
        if (now - lastProgress >= (job.progressIntervalMs ?? 250) || b === stepsPerEpoch - 1) {
          lastProgress = now;
          const done = epoch * n + Math.min(n, (b + 1) * s.batchSize);
          // The display adds the rate and the ETA from done/total: the note says only what it cannot know.
          job.progress(done, totalExamples, `epoch ${epoch + 1}/${s.epochs} · loss ${(lossSum / (b + 1)).toFixed(4)}`);
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      const e0 = performance.now();
      const evalRes: Record<string, EvalMetrics> = {};
      for (const [name, rows] of Object.entries(job.evalSets)) {
        evalRes[name] = evalMetrics(await evaluate(model, rows, { batchSize: s.evalBatchSize, padTo: s.padTo, padId: s.padId, signal: job.signal }));
      }
      const em: EpochMetrics = {
        epoch: epoch + 1,
        step: state.step,
        train_loss: lossSum / stepsPerEpoch,
        learning_rate: lr,
        seconds,
        examples_per_second: n / seconds,
        eval_seconds: (performance.now() - e0) / 1000,
        eval: evalRes,
      };
      state.epochs.push(em);
      state.epoch = epoch + 1;
      job.log(`epoch ${em.epoch}/${s.epochs}: train loss ${em.train_loss.toFixed(4)}, ${em.examples_per_second.toFixed(1)} ex/s` +
        Object.entries(evalRes).map(([k, v]) => `; ${k} accuracy ${(100 * v.accuracy).toFixed(2)}% loss ${v.loss.toFixed(4)}`).join(''));
      // Saved even when an abort arrived meanwhile: the epoch is complete; the next step will throw.
      await saveEpochCheckpoint(job.workDir, state, model, optimizer);
    }
    const final = state.epochs.length ? state.epochs[state.epochs.length - 1].eval : {};
    return { model, metrics: { epochs: state.epochs, final, curve: state.curve }, resumedEpochs };
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    optimizer.dispose();
  }
}
