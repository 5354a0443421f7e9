// GPU discovery: spec parsing, nvidia-smi parsing (captured text) and the spawn path (fake
// nvidia-smi scripts written to a temp folder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceEnv, detectGpus, GpuSpecError, parseGpuSpec, parseMemory, parseNvidiaSmi } from '../../src/schedule/devices.js';

// The shape `nvidia-smi --query-gpu=index,name,memory.total,memory.used --format=csv,noheader,nounits`
// prints (one line per card, MiB without units), written by hand for a 2×A100 box: no GPU was
// available to capture real output from.
const CAPTURED = '0, NVIDIA A100-SXM4-80GB, 81920, 4\n1, NVIDIA A100-SXM4-80GB, 81920, 1531\n';

test('parseMemory: decimal and binary units, errors', () => {
  assert.equal(parseMemory('512MiB'), 512);
  assert.equal(parseMemory('2GiB'), 2048);
  assert.equal(parseMemory('2 gib'), 2048);
  assert.ok(Math.abs(parseMemory('20GB') - 20e9 / 2 ** 20) < 1e-9);
  assert.ok(parseMemory('80GB') < 81559, 'an "80GB" request fits an 80GB card');
  assert.throws(() => parseMemory('20'), /unit/);
  assert.throws(() => parseMemory('20 parsecs'), /unknown unit "parsecs"/);
  assert.throws(() => parseMemory('0GB'), /greater than zero/);
});

test('parseGpuSpec: ids, memory, none, errors', () => {
  assert.deepEqual(parseGpuSpec('0,1'), [{ id: '0' }, { id: '1' }]);
  assert.deepEqual(parseGpuSpec(' 0:80GiB , 1:40GiB'), [{ id: '0', totalMiB: 81920 }, { id: '1', totalMiB: 40960 }]);
  assert.deepEqual(parseGpuSpec('none'), []);
  assert.deepEqual(parseGpuSpec(''), []);
  assert.throws(() => parseGpuSpec('0,0'), /device 0 is listed twice/);
  assert.throws(() => parseGpuSpec('0,,1'), (e: unknown) => e instanceof GpuSpecError && /--gpus: entry 2 ""/.test(e.message));
  assert.throws(() => parseGpuSpec('0:lots', 'FISHERFLOW_GPUS'), /FISHERFLOW_GPUS: memory of device 0/);
});

test('parseNvidiaSmi: captured output', () => {
  assert.deepEqual(parseNvidiaSmi(CAPTURED), [
    { id: '0', name: 'NVIDIA A100-SXM4-80GB', totalMiB: 81920, usedMiB: 4 },
    { id: '1', name: 'NVIDIA A100-SXM4-80GB', totalMiB: 81920, usedMiB: 1531 },
  ]);
  // MIG / vGPU setups print [N/A] for memory: the device stays, its memory is unknown.
  assert.deepEqual(parseNvidiaSmi('0, NVIDIA H100, [N/A], [N/A]\n'), [{ id: '0', name: 'NVIDIA H100' }]);
  assert.deepEqual(parseNvidiaSmi(''), []);
});

function fakeSmi(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ff-smi-'));
  const exe = join(dir, 'nvidia-smi');
  writeFileSync(exe, `#!/bin/sh\n${body}\n`);
  chmodSync(exe, 0o755);
  return dir;
}

test('detectGpus: precedence flag > env > nvidia-smi', async () => {
  const dir = fakeSmi(`printf '${CAPTURED.replace(/\n/g, '\\n')}'`);
  const env = { PATH: `${dir}:${process.env.PATH}` };
  assert.deepEqual(await detectGpus({ flag: '3', env: { ...env, FISHERFLOW_GPUS: '0,1' } }), { devices: [{ id: '3' }], source: 'flag' });
  assert.deepEqual(await detectGpus({ env: { ...env, FISHERFLOW_GPUS: '0:10GB' } }), { devices: [{ id: '0', totalMiB: 10e9 / 2 ** 20 }], source: 'env' });
  // No flag or env: the fake nvidia-smi found on PATH.
  const found = await detectGpus({ env });
  assert.equal(found.source, 'nvidia-smi');
  assert.deepEqual(found.devices.map((d) => [d.id, d.totalMiB, d.usedMiB]), [['0', 81920, 4], ['1', 81920, 1531]]);
  // A CUDA_VISIBLE_DEVICES set for the whole run narrows the list.
  const narrowed = await detectGpus({ env: { ...env, CUDA_VISIBLE_DEVICES: '1' } });
  assert.deepEqual(narrowed.devices.map((d) => d.id), ['1']);
});

test('detectGpus: no nvidia-smi, or a failing one, means no devices', async () => {
  const missing = await detectGpus({ env: { PATH: '/nonexistent' } });
  assert.equal(missing.source, 'none');
  assert.deepEqual(missing.devices, []);
  assert.match(missing.note ?? '', /not found/);
  const dir = fakeSmi(`echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." >&2; exit 9`);
  const failing = await detectGpus({ env: { PATH: `${dir}:${process.env.PATH}` } });
  assert.equal(failing.source, 'none');
  assert.match(failing.note ?? '', /couldn't communicate/);
});

test('deviceEnv: GPU and CPU runs', () => {
  assert.deepEqual(deviceEnv(['0', '2']), { CUDA_DEVICE_ORDER: 'PCI_BUS_ID', CUDA_VISIBLE_DEVICES: '0,2', FISHERFLOW_DEVICE: '0,2' });
  assert.deepEqual(deviceEnv([]), { CUDA_DEVICE_ORDER: 'PCI_BUS_ID', CUDA_VISIBLE_DEVICES: '', FISHERFLOW_DEVICE: 'cpu' });
});
