// What the model benchmarks share: running one measurement in a child process of the same script
// (so its peak RSS is its own), and a model with random weights to measure on.
import { spawnSync } from 'node:child_process';
import type { BertConfig } from '../ml/bert/config.js';

/** Runs `script --child ...args` and returns the last JSON line it printed. */
export function childRun(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const r = spawnSync(process.execPath, [...process.execArgv, script, ...args], { encoding: 'utf8', maxBuffer: 1 << 26, env });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) throw new Error(`child ${args.join(' ')} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  return JSON.parse(line);
}

/** Saves a BERT classifier with the config's shape and random (HF-initialised, seed 0) weights; prints its size. */
export async function saveRandomModel(dir: string, config: Partial<BertConfig>): Promise<void> {
  const { initBackend } = await import('../ml/bert/backend.js');
  await initBackend('wasm');
  const { BertForSequenceClassification } = await import('../ml/bert/model.js');
  const m = BertForSequenceClassification.fromConfig(config, 0);
  await m.save(dir);
  console.log(JSON.stringify({ params: m.numParameters() }));
}
