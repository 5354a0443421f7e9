// Training steps against PyTorch on the CPU backend (the check itself: torch-steps-check.ts).
import { test } from 'node:test';
import { checkTorchSteps } from './torch-steps-check.js';

test('runTraining on a tiny BERT matches torch AdamW + schedule + clip_grad_norm_ step for step', (t) => checkTorchSteps(t, 'wasm'));
