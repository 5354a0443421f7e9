// Gradients of the tfjs model (lossAndGrads, and the per-example path of the Fisher) against
// central finite differences of an independent float64 forward pass (reference-bert.ts) on a
// tiny random model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../ml/bert/backend.js';
import { BertForSequenceClassification } from '../../ml/bert/model.js';
import { makeBatch } from '../../ml/bert/batch.js';
import { fisherSums } from '../../stages/fim/fisher.js';
import { logits64, loss64, type Params64 } from './reference-bert.js';

test('gradients equal float64 finite differences for every parameter tensor; Fisher = squared gradient', async () => {
  await initBackend('wasm');
  const cfg = { vocab_size: 30, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 12, max_position_embeddings: 16, initializer_range: 0.5 };
  const model = BertForSequenceClassification.fromConfig(cfg, 4);
  try {
    // Non-trivial LayerNorm and bias values.
    for (const [name, v] of model.params) {
      if (name.endsWith('.bias') || name.includes('LayerNorm')) {
        const d = v.dataSync().map((x, i) => x + 0.3 * Math.sin(7 * i + name.length));
        v.assign((await import('@tensorflow/tfjs-core')).tensor(d, v.shape));
      }
    }
    const ids = [2, 7, 7, 11, 3], types = [0, 0, 1, 1, 1], label = 1;
    const P: Params64 = new Map([...model.params].map(([n, v]) => [n, Float64Array.from(v.dataSync())]));
    const z32 = model.logits(makeBatch([{ input_ids: ids, token_type_ids: types }])).dataSync();
    const z64 = logits64(model.config, P, ids, types);
    for (let c = 0; c < 2; c++) assert.ok(Math.abs(z32[c] - z64[c]) < 1e-5, `logit ${c}: ${z32[c]} vs ${z64[c]}`);
    const { grads } = await model.lossAndGrads(makeBatch([{ input_ids: ids, token_type_ids: types, labels: label }]));
    const fisher = (await fisherSums(model, [{ index: 0, row: { input_ids: ids, token_type_ids: types, labels: label } }], { fisher: 'empirical', samples: 1, seed: 0, batchSize: 1 })).sums;
    const h = 1e-5;
    let checked = 0;
    for (const [name, g] of grads) {
      const gv = g.dataSync();
      const p = P.get(name)!;
      // The largest-gradient coordinates of each tensor plus a couple of fixed ones.
      const idx = [...gv.keys()].sort((a, b) => Math.abs(gv[b]) - Math.abs(gv[a])).slice(0, 3).concat([0, p.length - 1]);
      for (const i of idx) {
        const keep = p[i];
        p[i] = keep + h; const up = loss64(model.config, P, ids, types, label);
        p[i] = keep - h; const down = loss64(model.config, P, ids, types, label);
        p[i] = keep;
        const fd = (up - down) / (2 * h);
        assert.ok(Math.abs(gv[i] - fd) <= 2e-4 * Math.abs(fd) + 2e-6, `${name}[${i}]: tfjs ${gv[i]} vs finite difference ${fd}`);
        const f = fisher.get(name)![i];
        assert.ok(Math.abs(f - fd * fd) <= 5e-4 * fd * fd + 1e-10, `Fisher ${name}[${i}]: ${f} vs ${fd * fd}`);
        checked++;
      }
      g.dispose();
    }
    assert.ok(checked >= 4 * grads.size, `checked ${checked} of ${grads.size} tensors`);
  } finally { model.dispose(); }
});
