// WebGPU backend selection: backend: webgpu names its adapter; auto never picks a software adapter
// (lavapipe/llvmpipe, SwiftShader), even with a GPU assigned, and says why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, isSoftwareAdapter } from '../../ml/bert/backend.js';
import { probeWebgpu, webgpuRequired, webgpuSkip } from '../helpers/webgpu.js';

test('a WebGPU adapter is available where CI requires one (FISHERFLOW_REQUIRE_WEBGPU=1)', () => {
  if (webgpuRequired()) assert.ok(probeWebgpu().adapter, `FISHERFLOW_REQUIRE_WEBGPU=1 but ${probeWebgpu().reason}`);
});

test('software adapters are recognised by Dawn\'s fallback flag or their name; GPUs are not', () => {
  assert.equal(isSoftwareAdapter({ vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7', isFallbackAdapter: true }), true);
  assert.equal(isSoftwareAdapter({ description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }), true);
  assert.equal(isSoftwareAdapter({ vendor: 'google', device: 'SwiftShader Device (Subzero)' }), true);
  assert.equal(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', description: 'NVIDIA: 580.95.05 580.95.5.0', isFallbackAdapter: false }), false);
  assert.equal(isSoftwareAdapter({ vendor: 'amd', description: 'AMD Radeon RX 7900 XTX (RADV NAVI31)' }), false);
});

test('auto with a GPU assigned never picks a software adapter and says why; backend: webgpu names the adapter', { skip: webgpuSkip() }, async () => {
  const adapter = probeWebgpu().adapter ?? '';
  const auto = await initBackend('auto', { gpu: true });
  if (isSoftwareAdapter({ description: adapter })) {
    assert.notEqual(auto.backend, 'webgpu');
    assert.match(auto.note ?? '', /webgpu not used: the only WebGPU adapter is a software renderer/);
    assert.ok(auto.note!.includes(adapter), auto.note);
  } else {
    assert.equal(auto.backend, 'webgpu');
  }
  const info = await initBackend('webgpu');
  assert.equal(info.backend, 'webgpu');
  assert.equal(info.adapter, adapter);
  assert.ok(info.device.includes(adapter), info.device);
  if (isSoftwareAdapter({ description: adapter })) assert.match(info.device, /^cpu \(webgpu\/Dawn on a software adapter/);
});
