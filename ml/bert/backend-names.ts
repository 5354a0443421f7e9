// Backend names, apart from backend.ts so that stage schemas can list them without loading
// TensorFlow.js (the engine imports stage modules to plan, and planning must stay fast).
export type BackendName = 'auto' | 'wasm' | 'cpu' | 'tensorflow' | 'webgpu';
export const BACKEND_NAMES: BackendName[] = ['auto', 'wasm', 'cpu', 'tensorflow', 'webgpu'];
