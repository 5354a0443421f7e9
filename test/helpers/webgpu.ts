// Whether this machine gives Dawn (the `webgpu` package) a WebGPU adapter: a GPU, or Mesa's
// lavapipe CPU driver (Mesa 25 from bookworm-backports, which CI installs). The WebGPU tests skip
// with the reason where there is none, except under FISHERFLOW_REQUIRE_WEBGPU=1 (set by .ci/run),
// where they run and fail. Probed in a child process, so the test process's own Dawn and tfjs
// state start clean.
import { spawnSync } from 'node:child_process';
import { repoRoot } from './repo-root.js';

export interface WebgpuProbe {
  /** The adapter's name (vendor, architecture, device, driver), or null. */
  adapter: string | null;
  /** Why there is none. */
  reason?: string;
}

const PROBE = `
const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
const a = await create([]).requestAdapter();
const i = a?.info ?? {};
console.log(JSON.stringify(a ? [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ') : null));
process.exit(0);
`;

let probed: WebgpuProbe | undefined;

export function probeWebgpu(): WebgpuProbe {
  if (probed) return probed;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], { cwd: repoRoot(), encoding: 'utf8', timeout: 60_000 });
  let adapter: string | null = null;
  try { adapter = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? 'null'); } catch { /* no output: failed to load */ }
  probed = adapter ? { adapter } : { adapter: null, reason: r.status === 0 ? 'Dawn found no WebGPU adapter (no GPU and no Vulkan driver such as Mesa 25 lavapipe)' : `the webgpu package did not load: ${(r.stderr || '').trim().split('\n').at(-1)}` };
  return probed;
}

export const webgpuRequired = (): boolean => process.env.FISHERFLOW_REQUIRE_WEBGPU === '1';

/** For test options: false (run) when there is an adapter or CI requires one; otherwise the reason to skip. */
export function webgpuSkip(): string | false {
  const p = probeWebgpu();
  return p.adapter || webgpuRequired() ? false : `no WebGPU adapter: ${p.reason}`;
}
