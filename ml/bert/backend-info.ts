// What a model stage ran on, apart from backend.ts so that stage modules can write it into their
// outputs' metadata without loading TensorFlow.js at import time.
export interface BackendInfo {
  backend: string;
  device: string;
  /** wasm only: the native BLAS library doing the matrix products, or why there is none. */
  blas?: string;
  /** webgpu only: the adapter Dawn gave (vendor, architecture, device, driver). */
  adapter?: string;
  /** auto: why a GPU backend was passed over (for the stage's log). */
  note?: string;
}

/** String entries for an output's metadata (safetensors header): backend, device, and adapter or BLAS. */
export function backendMetadata(info: BackendInfo): Record<string, string> {
  return {
    backend: info.backend,
    device: info.device,
    ...(info.adapter ? { adapter: info.adapter } : {}),
    ...(info.blas ? { blas: info.blas } : {}),
  };
}
