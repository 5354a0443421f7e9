// GPU devices: where they come from and how their memory is written.
//
// Public surface:
//   parseMemory(text): number                          "20GB" | "20GiB" | "512MiB" → MiB
//   parseGpuSpec(text, origin?): GpuDevice[]           "0,1" | "0:80GB,1:80GB" | "none"
//   parseNvidiaSmi(csv): GpuDevice[]                   output of NVIDIA_SMI_QUERY
//   detectGpus({ flag?, env?, nvidiaSmi? }): Promise<GpuDetection>
//   deviceEnv(gpus): Record<string, string>            env vars a stage process gets
//
// Precedence: `--gpus` flag, then FISHERFLOW_GPUS, then nvidia-smi, else no devices. The explicit
// forms are also how tests drive the GPU queue on machines without a GPU.
import { execFile } from 'node:child_process';
import { UserError } from '../errors.js';

export interface GpuDevice {
  /** Physical index as nvidia-smi numbers it (PCI bus order); what CUDA_VISIBLE_DEVICES gets. */
  id: string;
  name?: string;
  /** Total memory in MiB, when known (nvidia-smi or `0:80GB`). */
  totalMiB?: number;
  /** Memory already in use at detection (other users of the card), in MiB. */
  usedMiB?: number;
}

export type GpuSource = 'flag' | 'env' | 'nvidia-smi' | 'none';

export interface GpuDetection {
  devices: GpuDevice[];
  source: GpuSource;
  /** Why no devices were found (nvidia-smi missing or failing), for `--verbose` style output. */
  note?: string;
}

/** Thrown for a malformed `--gpus` / FISHERFLOW_GPUS / gpu_memory value. */
export class GpuSpecError extends UserError {}

export const NVIDIA_SMI_ARGS = ['--query-gpu=index,name,memory.total,memory.used', '--format=csv,noheader,nounits'];

const MIB = 1024 * 1024;
// GB/MB are decimal on purpose: an "80GB" card reports ~81559 MiB, so a stage declaring "80GB"
// (76294 MiB) fits it; binary 80 GiB (81920 MiB) would not.
const UNITS: Record<string, number> = {
  b: 1 / MIB,
  kb: 1e3 / MIB, mb: 1e6 / MIB, gb: 1e9 / MIB, tb: 1e12 / MIB,
  kib: 1 / 1024, mib: 1, gib: 1024, tib: 1024 * 1024,
  ki: 1 / 1024, mi: 1, gi: 1024, ti: 1024 * 1024,
};

/** Memory size with a unit ("20GB", "20 GiB", "512MiB", "1.5gb") → MiB. A bare number is refused. */
export function parseMemory(text: string, what = 'memory'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(String(text));
  if (!m) {
    throw new GpuSpecError(`${what}: expected a size with a unit such as "20GB", "20GiB" or "512MiB", got ${JSON.stringify(text)}`);
  }
  const factor = UNITS[m[2]!.toLowerCase()];
  if (factor === undefined) {
    throw new GpuSpecError(`${what}: unknown unit "${m[2]}" in ${JSON.stringify(text)}; use B, KB, MB, GB, TB (decimal) or KiB, MiB, GiB, TiB (binary)`);
  }
  const mib = Number(m[1]) * factor;
  if (!(mib > 0)) throw new GpuSpecError(`${what}: must be greater than zero, got ${JSON.stringify(text)}`);
  return mib;
}

/**
 * `--gpus` / FISHERFLOW_GPUS: comma-separated device ids, each optionally with memory
 * (`0:80GB`). "none" or "" declares no devices (forces CPU). `origin` names the source in errors.
 */
export function parseGpuSpec(text: string, origin = '--gpus'): GpuDevice[] {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.toLowerCase() === 'none') return [];
  const devices: GpuDevice[] = [];
  const seen = new Set<string>();
  for (const [i, raw] of trimmed.split(',').entries()) {
    const part = raw.trim();
    const m = /^([0-9]+|[A-Za-z0-9][A-Za-z0-9-]*)(?::(.+))?$/.exec(part);
    if (!m) {
      throw new GpuSpecError(`${origin}: entry ${i + 1} ${JSON.stringify(part)} is not a device; expected "0,1" or "0:80GB,1:80GB"`);
    }
    const id = m[1]!;
    if (seen.has(id)) throw new GpuSpecError(`${origin}: device ${id} is listed twice`);
    seen.add(id);
    const dev: GpuDevice = { id };
    if (m[2] !== undefined) dev.totalMiB = parseMemory(m[2], `${origin}: memory of device ${id}`);
    devices.push(dev);
  }
  return devices;
}

/** Parses `nvidia-smi --query-gpu=index,name,memory.total,memory.used --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(csv: string): GpuDevice[] {
  const devices: GpuDevice[] = [];
  for (const line of csv.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const cols = line.split(',').map((c) => c.trim());
    // The name may itself contain commas in odd drivers; index is first, the two numbers last.
    if (cols.length < 4) throw new GpuSpecError(`nvidia-smi: unexpected line ${JSON.stringify(line)}`);
    const id = cols[0]!;
    const total = Number(cols[cols.length - 2]);
    const used = Number(cols[cols.length - 1]);
    if (!/^\d+$/.test(id)) throw new GpuSpecError(`nvidia-smi: unexpected index in line ${JSON.stringify(line)}`);
    const dev: GpuDevice = { id, name: cols.slice(1, -2).join(',') };
    // "[N/A]" appears for memory on some MIG / vGPU setups: memory then counts as unknown.
    if (Number.isFinite(total) && total > 0) dev.totalMiB = total;
    if (Number.isFinite(used) && used >= 0) dev.usedMiB = used;
    devices.push(dev);
  }
  return devices;
}

export interface DetectOptions {
  /** Value of `--gpus`, if given. */
  flag?: string;
  env?: NodeJS.ProcessEnv;
  /** The nvidia-smi executable (tests point it at a fake script). */
  nvidiaSmi?: string;
  timeoutMs?: number;
}

export async function detectGpus(opts: DetectOptions = {}): Promise<GpuDetection> {
  const env = opts.env ?? process.env;
  if (opts.flag !== undefined) return { devices: parseGpuSpec(opts.flag, '--gpus'), source: 'flag' };
  const fromEnv = env.FISHERFLOW_GPUS;
  if (fromEnv !== undefined) return { devices: parseGpuSpec(fromEnv, 'FISHERFLOW_GPUS'), source: 'env' };
  const exe = opts.nvidiaSmi ?? 'nvidia-smi';
  const result = await new Promise<{ stdout: string; error?: string }>((resolve) => {
    execFile(exe, NVIDIA_SMI_ARGS, { env, timeout: opts.timeoutMs ?? 15_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const why = code === 'ENOENT' ? `${exe} not found` : `${exe} failed: ${(stderr || err.message).trim().split('\n')[0]}`;
        resolve({ stdout: '', error: why });
      } else {
        resolve({ stdout });
      }
    });
  });
  if (result.error) return { devices: [], source: 'none', note: result.error };
  let devices: GpuDevice[];
  try {
    devices = parseNvidiaSmi(result.stdout);
  } catch (e) {
    return { devices: [], source: 'none', note: (e as Error).message };
  }
  // Respect a CUDA_VISIBLE_DEVICES the user set for the whole run (numeric form only; UUIDs and
  // MIG ids are passed through unfiltered because nvidia-smi's index does not name them).
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined && /^\s*\d+(\s*,\s*\d+)*\s*$/.test(visible)) {
    const keep = new Set(visible.split(',').map((s) => s.trim()));
    devices = devices.filter((d) => keep.has(d.id));
  } else if (visible !== undefined && visible.trim() === '') {
    devices = [];
  }
  if (devices.length === 0) return { devices: [], source: 'none', note: 'nvidia-smi listed no usable GPU' };
  return { devices, source: 'nvidia-smi' };
}

/**
 * Env vars for a stage process on the given physical devices. CUDA numbers devices fastest-first
 * unless told otherwise, while nvidia-smi uses PCI bus order, so the order is pinned to match.
 * A CPU run gets CUDA_VISIBLE_DEVICES="" so frameworks do not grab a card behind the queue's back.
 */
export function deviceEnv(gpus: readonly string[]): Record<string, string> {
  const list = gpus.join(',');
  return {
    CUDA_DEVICE_ORDER: 'PCI_BUS_ID',
    CUDA_VISIBLE_DEVICES: list,
    FISHERFLOW_DEVICE: gpus.length > 0 ? list : 'cpu',
  };
}
