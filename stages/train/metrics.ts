// The metrics.json the train stage writes (declared `metrics: true`).
import type { EvalResult } from '../../ml/bert/evaluate.js';

export interface EvalMetrics { accuracy: number; loss: number }

export interface EpochMetrics {
  /** 1-based. */
  epoch: number;
  /** Optimizer steps completed at the end of the epoch. */
  step: number;
  /** Mean training loss over the epoch's steps (dropout on). */
  train_loss: number;
  /** Learning rate the epoch's last step used. */
  learning_rate: number;
  /** Training time of the epoch, evaluation excluded. */
  seconds: number;
  examples_per_second: number;
  eval_seconds: number;
  eval: Record<string, EvalMetrics>;
}

export interface CurvePoint { step: number; loss: number }

export interface TrainMetrics {
  epochs: EpochMetrics[];
  /** Evaluation of the saved (final) model. */
  final: Record<string, EvalMetrics>;
  /** Mean training loss per logging window of `logging_steps` steps (windows end at epoch ends). */
  curve: CurvePoint[];
}

export function evalMetrics(r: EvalResult): EvalMetrics {
  return { accuracy: r.accuracy, loss: r.loss };
}
