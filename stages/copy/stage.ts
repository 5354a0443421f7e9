// `copy`: copies a local file or folder into the store, so later stages read a pinned snapshot.
import { cp, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PATH_KEYWORD, StageInputError, type StageModule } from '../../src/stage/api.js';

interface Inputs {
  path: string;
}

const stage: StageModule<Inputs> = {
  type: 'copy',
  description: 'Snapshot a local file or folder into the store (output `copy`).',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', [PATH_KEYWORD]: true, description: 'File or folder to copy.' },
    },
  },
  outputs: (i) => ({ copy: { path: basename(i.path) || 'copy', kind: 'file' } }),
  async run(ctx) {
    const src = ctx.inputs.path;
    try {
      await stat(src);
    } catch {
      throw new StageInputError(`with.path: ${src} does not exist`);
    }
    await cp(src, join(ctx.outDir, basename(src) || 'copy'), { recursive: true });
    ctx.log(`copied ${src}`);
  },
};
export default stage;
