// Four full-batch training steps of a tiny BERT (dropout 0) through runTraining against PyTorch
// 1.13 with HF Trainer's recipe: AdamW with HF's decay groups, linear warm-up/decay, clipping
// (active on every step here). Fixture: test/fixtures/train/torch-steps/, made by
// make_train_step_fixture.py with Debian's /usr/bin/python3. One batch per epoch, so the seeded
// row order changes only the summation order inside the batch.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { initBackend, type BackendName } from '../../ml/bert/backend.js';
import { BertForSequenceClassification } from '../../ml/bert/model.js';
import { readTokenizedJsonl } from '../../ml/bert/batch.js';
import { runTraining } from '../../stages/train/trainer.js';
import { scratchDir } from './scratch.js';
import { fixturePath } from './repo-root.js';

interface Reference { steps: number; lr: number; weight_decay: number; warmup_steps: number; max_grad_norm: number; losses: number[]; lrs: number[]; params: Record<string, number[]> }

/** Runs the check on `backend` (torch-steps.test.ts: wasm; test/webgpu: webgpu). */
export async function checkTorchSteps(t: TestContext, backend: BackendName): Promise<void> {
  await initBackend(backend);
  const ref: Reference = JSON.parse(readFileSync(fixturePath('torch-steps/reference.json'), 'utf8'));
  const rows = await readTokenizedJsonl(fixturePath('torch-steps/data.jsonl'));
  const { model, metrics } = await runTraining({
    settings: {
      epochs: ref.steps, batchSize: rows.length, evalBatchSize: rows.length, learningRate: ref.lr, weightDecay: ref.weight_decay,
      warmupSteps: ref.warmup_steps, maxGradNorm: ref.max_grad_norm, seed: 1, padId: 0, loggingSteps: 1,
    },
    train: rows,
    evalSets: {},
    workDir: scratchDir('ff-train-torch-'),
    createModel: () => BertForSequenceClassification.fromPretrained(fixturePath('torch-steps/init')),
    loadModel: (d) => BertForSequenceClassification.fromPretrained(d),
    log: () => {},
    progress: () => {},
    signal: new AbortController().signal,
  });
  try {
    metrics.epochs.forEach((e, i) => {
      assert.ok(Math.abs(e.train_loss - ref.losses[i]) < 2e-5, `loss at step ${i + 1}: ${e.train_loss} vs ${ref.losses[i]}`);
      assert.ok(Math.abs(e.learning_rate - ref.lrs[i]) < 1e-12, `lr at step ${i + 1}`);
    });
    let worst = 0;
    let worstName = '';
    let sum = 0;
    let count = 0;
    for (const [name, v] of model.params) {
      const got = await v.data();
      const want = ref.params[name];
      assert.ok(want, `torch has no parameter ${name}`);
      assert.equal(got.length, want.length, name);
      // The attention key bias has a true gradient of 0 (softmax ignores a per-query constant), so
      // its gradient is rounding noise that Adam's m/sqrt(v) scales up to ±lr: compare loosely.
      if (name.endsWith('attention.self.key.bias')) {
        for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 2 * ref.lr * ref.steps, `${name}[${i}]`);
        continue;
      }
      for (let i = 0; i < want.length; i++) {
        const d = Math.abs(got[i] - want[i]);
        sum += d;
        count++;
        if (d > worst) { worst = d; worstName = `${name}[${i}]`; }
      }
    }
    assert.equal(model.params.size, Object.keys(ref.params).length);
    t.diagnostic(`parameter difference to torch: largest ${worst.toExponential(2)} (${worstName}), mean ${(sum / count).toExponential(2)}`);
    // Adam moves every parameter by up to lr = 1e-2 per step whatever the gradient's size, so
    // float32 noise in small gradients shows as ~1e-5 differences; a wrong update would be ~1e-2.
    assert.ok(worst < 1e-4, `largest parameter difference ${worst} at ${worstName}`);
    assert.ok(sum / count < 5e-7, `mean parameter difference ${sum / count}`);
  } finally {
    model.dispose();
  }
}

