// Backend selection: optional native/GPU backends fail with a clear message when absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../ml/bert/backend.js';
import { StageInputError } from '../../src/stage/api.js';

test('tensorflow and webgpu backends load only when available, with clear errors otherwise; auto falls back', async () => {
  for (const name of ['tensorflow', 'webgpu'] as const) {
    try {
      const info = await initBackend(name);
      assert.equal(info.backend, name); // installed / GPU present
    } catch (e) {
      assert.ok(e instanceof StageInputError, String(e));
      assert.match(e.message, name === 'tensorflow' ? /not installed/ : /no WebGPU adapter|webgpu/);
    }
  }
  const info = await initBackend('auto', { gpu: true });
  assert.ok(['tensorflow', 'webgpu', 'wasm', 'cpu'].includes(info.backend));
  assert.ok(info.device.length > 0);
  await assert.rejects(initBackend('nope' as never), StageInputError);
  const cpu = await initBackend('cpu');
  assert.equal(cpu.backend, 'cpu');
});
