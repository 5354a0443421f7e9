// ResourcePool: admission of stages to CPU slots and GPU devices.
//
// Public surface:
//   new ResourcePool({ cpuSlots, devices?, jobsPerGpu? })
//   pool.check(need): string | null            why `need` can never be met (names the stage), else null
//   pool.acquire(need, signal?): Promise<Lease> waits for room; rejects on abort or if check fails
//   pool.run(need, fn, signal?)                acquire, run fn(lease), release
//   pool.snapshot(): PoolSnapshot              free slots, per-device load, waiting count
//   lease.gpus: string[]  lease.cpu: number  lease.release()   (release is idempotent)
//
// Rules:
// - Every stage takes `cpu` slots (default 1, clamped to cpuSlots so `-j 1` still runs a cpu: 4
//   stage). A GPU stage takes its CPU slots too: it is a process on the host.
// - A GPU request without declared memory (or on a device of unknown size) takes one of the
//   device's `jobsPerGpu` slots (default 1: exclusive). With declared memory on a device of known
//   size, stages share the device while the sum of declared memory fits. The two kinds never mix
//   on one device, since an undeclared stage may use all of it.
// - `gpu: 'optional'` takes a device with room if there is one right now, otherwise runs on CPU.
// - Fairness: requests are considered in arrival order. A request that cannot start reserves the
//   devices it will use (and, once its GPUs are available, the free CPU slots), and later requests
//   may only use what is not reserved. So a 2-GPU stage is not starved by a stream of 1-GPU stages,
//   and a cpu: 4 stage is not starved by 1-slot stages. A request waiting for a GPU does not hold
//   CPU slots, so CPU stages keep running meanwhile. Reservations are recomputed on every change,
//   and only free resources are ever held back, so there is no deadlock: the oldest waiting
//   request eventually sees everything it needs free.
//
// Why not p-queue here: p-queue's concurrency counts tasks, not weighted slots, and a task that
// waits for a GPU inside it would occupy a slot. Admission is the product, so it is written here.
import type { GpuDevice } from './devices.js';

export interface ResourceNeed {
  /** Stage name, used in messages. */
  stage: string;
  /** CPU slots (default 1). */
  cpu?: number;
  /** GPUs: 0 (default), N distinct devices, or 'optional'. */
  gpu?: number | 'optional';
  /** Declared memory per device in MiB (from `gpu_memory`, see parseMemory). */
  gpuMemoryMiB?: number;
}

export interface Lease {
  stage: string;
  cpu: number;
  /** Physical device ids given to the stage; empty for a CPU run. */
  gpus: string[];
  release(): void;
}

export interface PoolOptions {
  /** Number of CPU slots (`-j N`; default: number of cores, decided by the caller). */
  cpuSlots: number;
  devices?: GpuDevice[];
  /** Stages without declared memory that may share one device (default 1). */
  jobsPerGpu?: number;
}

export interface PoolSnapshot {
  cpuSlots: number;
  cpuFree: number;
  running: number;
  waiting: number;
  devices: Array<{ id: string; capacityMiB?: number; jobs: number; usedMiB: number }>;
}

/** Thrown by acquire for a request that can never be met. */
export class ResourceError extends Error {
  constructor(message: string, readonly stage: string) {
    super(message);
    this.name = 'ResourceError';
  }
}

interface DeviceState {
  id: string;
  /** Memory the queue may hand out: total minus what was in use at detection. */
  capacityMiB?: number;
  slotJobs: number;
  memJobs: number;
  usedMiB: number;
}

interface Waiter {
  stage: string;
  // Intrusive doubly linked list in arrival order: O(1) removal from anywhere (grants happen
  // mid-queue, aborts anywhere); an array's splice made 20,000 queued stages quadratic.
  prev: Waiter | null;
  next: Waiter | null;
  cpu: number;
  gpu: number | 'optional';
  mem?: number;
  resolve(lease: Lease): void;
  reject(err: unknown): void;
  cleanup(): void;
}

export class ResourcePool {
  readonly cpuSlots: number;
  readonly jobsPerGpu: number;
  private cpuFree: number;
  private readonly devices: DeviceState[];
  private head: Waiter | null = null;
  private tail: Waiter | null = null;
  private waitingCount = 0;
  private running = 0;

  constructor(opts: PoolOptions) {
    if (!Number.isInteger(opts.cpuSlots) || opts.cpuSlots < 1) {
      throw new RangeError(`cpu slots must be a whole number of at least 1, got ${opts.cpuSlots}`);
    }
    this.cpuSlots = opts.cpuSlots;
    this.cpuFree = opts.cpuSlots;
    this.jobsPerGpu = opts.jobsPerGpu ?? 1;
    if (!Number.isInteger(this.jobsPerGpu) || this.jobsPerGpu < 1) {
      throw new RangeError(`jobs per GPU must be a whole number of at least 1, got ${opts.jobsPerGpu}`);
    }
    this.devices = (opts.devices ?? []).map((d) => ({
      id: d.id,
      capacityMiB: d.totalMiB !== undefined ? d.totalMiB - (d.usedMiB ?? 0) : undefined,
      slotJobs: 0,
      memJobs: 0,
      usedMiB: 0,
    }));
  }

  /** Why `need` can never be met on this pool (message names the stage), or null. */
  check(need: ResourceNeed): string | null {
    const { stage } = need;
    const cpu = need.cpu ?? 1;
    if (!Number.isInteger(cpu) || cpu < 1) return `stage ${stage}: resources.cpu must be a whole number of at least 1, got ${cpu}`;
    const gpu = need.gpu ?? 0;
    if (gpu === 'optional') return null;
    if (!Number.isInteger(gpu) || gpu < 0) return `stage ${stage}: resources.gpu must be a whole number or "optional", got ${gpu}`;
    if (gpu === 0) return null;
    const n = this.devices.length;
    if (n === 0) {
      return `stage ${stage} requires ${gpu} GPU${gpu > 1 ? 's' : ''} but no GPU devices are available (declare them with --gpus 0,1 or FISHERFLOW_GPUS, or set resources.gpu: optional to allow CPU)`;
    }
    if (gpu > n) {
      return `stage ${stage} requires ${gpu} GPUs but only ${n} device${n > 1 ? 's are' : ' is'} available (${this.devices.map((d) => d.id).join(', ')})`;
    }
    const mem = need.gpuMemoryMiB;
    if (mem !== undefined) {
      const fits = this.devices.filter((d) => d.capacityMiB === undefined || mem <= d.capacityMiB);
      if (fits.length < gpu) {
        const biggest = Math.max(...this.devices.map((d) => d.capacityMiB ?? 0));
        return `stage ${stage} declares gpu_memory ${fmtMiB(mem)} per device but ${gpu === 1 ? 'no device has' : `fewer than ${gpu} devices have`} that much (largest: ${fmtMiB(biggest)})`;
      }
    }
    return null;
  }

  acquire(need: ResourceNeed, signal?: AbortSignal): Promise<Lease> {
    const problem = this.check(need);
    if (problem) return Promise.reject(new ResourceError(problem, need.stage));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Lease>((resolve, reject) => {
      const w: Waiter = {
        stage: need.stage,
        prev: null,
        next: null,
        cpu: Math.min(need.cpu ?? 1, this.cpuSlots),
        gpu: need.gpu ?? 0,
        mem: need.gpuMemoryMiB,
        resolve,
        reject,
        cleanup: () => {},
      };
      if (signal) {
        const onAbort = () => {
          if (this.isWaiting(w)) {
            this.unlink(w);
            reject(signal.reason);
            // Its reservations are gone: others may now fit.
            this.dispatch();
          }
        };
        signal.addEventListener('abort', onAbort, { once: true });
        w.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.append(w);
      this.dispatch();
    });
  }

  async run<T>(need: ResourceNeed, fn: (lease: Lease) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const lease = await this.acquire(need, signal);
    try {
      return await fn(lease);
    } finally {
      lease.release();
    }
  }

  snapshot(): PoolSnapshot {
    return {
      cpuSlots: this.cpuSlots,
      cpuFree: this.cpuFree,
      running: this.running,
      waiting: this.waitingCount,
      devices: this.devices.map((d) => ({ id: d.id, capacityMiB: d.capacityMiB, jobs: d.slotJobs + d.memJobs, usedMiB: d.usedMiB })),
    };
  }

  private usesMemory(d: DeviceState, mem: number | undefined): boolean {
    return mem !== undefined && d.capacityMiB !== undefined;
  }

  private fitsNow(d: DeviceState, mem: number | undefined): boolean {
    if (this.usesMemory(d, mem)) return d.slotJobs === 0 && d.usedMiB + mem! <= d.capacityMiB!;
    return d.memJobs === 0 && d.slotJobs < this.jobsPerGpu;
  }

  private canEverFit(d: DeviceState, mem: number | undefined): boolean {
    return !this.usesMemory(d, mem) || mem! <= d.capacityMiB!;
  }

  // Spread over devices first (two stages on two idle cards beat two on one), lowest id on ties.
  private byLoad = (a: DeviceState, b: DeviceState): number =>
    a.slotJobs + a.memJobs - (b.slotJobs + b.memJobs) || a.usedMiB - b.usedMiB || this.devices.indexOf(a) - this.devices.indexOf(b);

  /** Devices to give `count` GPUs now, among unreserved ones, or null if they do not fit now. */
  private pickNow(count: number, mem: number | undefined, reserved: Set<DeviceState>): DeviceState[] | null {
    const free = this.devices.filter((d) => !reserved.has(d) && this.fitsNow(d, mem)).sort(this.byLoad);
    return free.length >= count ? free.slice(0, count) : null;
  }

  /** Devices a blocked request holds back: those that fit now first, then the least loaded. */
  private pickReservation(count: number, mem: number | undefined, reserved: Set<DeviceState>): DeviceState[] {
    const eligible = this.devices.filter((d) => !reserved.has(d) && this.canEverFit(d, mem));
    eligible.sort((a, b) => Number(this.fitsNow(b, mem)) - Number(this.fitsNow(a, mem)) || this.byLoad(a, b));
    return eligible.slice(0, count);
  }

  private dispatch(): void {
    let cpuView = this.cpuFree;
    const reserved = new Set<DeviceState>();
    for (let w = this.head; w !== null && cpuView > 0; ) {
      const next = w.next;
      let gpus: DeviceState[] | null;
      if (w.gpu === 'optional') gpus = this.pickNow(1, w.mem, reserved) ?? [];
      else if (w.gpu === 0) gpus = [];
      else gpus = this.pickNow(w.gpu, w.mem, reserved);

      if (gpus !== null && w.cpu <= cpuView) {
        this.unlink(w);
        cpuView -= w.cpu;
        this.grant(w, gpus);
        w = next;
        continue;
      }
      if (gpus === null) {
        for (const d of this.pickReservation(w.gpu as number, w.mem, reserved)) reserved.add(d);
      } else {
        // Only CPU is missing: hold its devices and the free slots so it is not overtaken.
        for (const d of gpus) reserved.add(d);
        cpuView -= Math.min(w.cpu, cpuView);
      }
      w = next;
    }
  }

  private append(w: Waiter): void {
    w.prev = this.tail;
    if (this.tail) this.tail.next = w;
    else this.head = w;
    this.tail = w;
    this.waitingCount++;
  }

  private isWaiting(w: Waiter): boolean {
    return w.prev !== null || this.head === w;
  }

  private unlink(w: Waiter): void {
    if (w.prev) w.prev.next = w.next;
    else this.head = w.next;
    if (w.next) w.next.prev = w.prev;
    else this.tail = w.prev;
    w.prev = w.next = null;
    this.waitingCount--;
  }

  private grant(w: Waiter, devices: DeviceState[]): void {
    w.cleanup();
    this.cpuFree -= w.cpu;
    this.running++;
    const memUsed = new Map<DeviceState, number>();
    for (const d of devices) {
      if (this.usesMemory(d, w.mem)) {
        d.memJobs++;
        d.usedMiB += w.mem!;
        memUsed.set(d, w.mem!);
      } else {
        d.slotJobs++;
      }
    }
    let released = false;
    const lease: Lease = {
      stage: w.stage,
      cpu: w.cpu,
      gpus: devices.map((d) => d.id),
      release: () => {
        if (released) return;
        released = true;
        this.cpuFree += w.cpu;
        this.running--;
        for (const d of devices) {
          const m = memUsed.get(d);
          if (m !== undefined) {
            d.memJobs--;
            d.usedMiB -= m;
          } else {
            d.slotJobs--;
          }
        }
        this.dispatch();
      },
    };
    w.resolve(lease);
  }
}

function fmtMiB(mib: number): string {
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${Math.round(mib)} MiB`;
}
