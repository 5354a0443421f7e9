// A worker stage for crash tests: appends `lines` lines, one every `interval_ms`, to a file in its
// resume folder (ctx.workDir, kept across interrupted attempts), continuing from the lines already
// there, and keeps a grandchild process (`sleep`) running meanwhile. After line `hold_after` it
// waits while the file `hold` exists. At the end the file is its output. A copy of it still
// running after its engine died would append to the same file while the next run resumes it.
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StageModule } from '../../../../src/stage/api.js';

interface Inputs {
  lines: number;
  interval_ms: number;
  hold?: string;
  hold_after?: number;
}

const stage: StageModule<Inputs> = {
  stageApiVersion: 1,
  type: 'slow-lines',
  description: 'append numbered lines slowly, resuming from its work folder',
  inputSchema: {
    type: 'object',
    properties: { lines: { type: 'integer' }, interval_ms: { type: 'integer' }, hold: { type: 'string' }, hold_after: { type: 'integer' } },
    required: ['lines', 'interval_ms'],
    additionalProperties: false,
  },
  outputs: () => ({ lines: { path: 'lines.txt', kind: 'file' } }),
  worker: true,
  async run(ctx) {
    const file = join(ctx.workDir, 'lines.txt');
    const have = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
    const grandchild = spawn('sleep', ['300'], { stdio: 'ignore' });
    for (let i = have + 1; i <= ctx.inputs.lines; i++) {
      appendFileSync(file, `line ${i}\n`);
      ctx.log(`wrote line ${i}`);
      await sleep(ctx.inputs.interval_ms);
      while (i === ctx.inputs.hold_after && ctx.inputs.hold && existsSync(ctx.inputs.hold)) await sleep(50);
    }
    grandchild.kill('SIGKILL');
    copyFileSync(file, join(ctx.outDir, 'lines.txt'));
  },
};
export default stage;
