// `copy`: copies a local file or folder into the store, so later stages read a pinned snapshot.
import { cp, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { defineStage, PATH_KEYWORD, StageInputError } from 'fisherflow';

interface Inputs {
  path: string;
}

const stage = defineStage<Inputs>({
  stageApiVersion: 1,
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
    // dereference: a symbolic link (say, into a Hugging Face cache's blobs/) is copied as its content.
    await cp(src, join(ctx.outDir, basename(src) || 'copy'), { recursive: true, dereference: true });
    ctx.log(`copied ${src}`);
  },
});
export default stage;
