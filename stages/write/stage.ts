// `write`: writes a text (or JSON) value to a file. The smallest built-in; handy for configs
// and for tests of the engine.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStage } from 'fisherflow';

interface Inputs {
  text?: string;
  json?: unknown;
  file?: string;
}

const stage = defineStage<Inputs>({
  stageApiVersion: 1,
  type: 'write',
  description: 'Write a text or JSON value to a file (output `file`).',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      text: { type: 'string', description: 'Text to write.' },
      json: { description: 'Any value, written as pretty JSON.' },
      file: { type: 'string', pattern: '^[^/\\\\]+$', default: 'out.txt', description: 'File name inside the output folder.' },
    },
  },
  outputs: (i) => ({ file: { path: i.file ?? (i.json !== undefined ? 'out.json' : 'out.txt'), kind: 'file', metrics: i.json !== undefined } }),
  check: (i) => (i.text === undefined && i.json === undefined ? ['give `text` or `json`'] : i.text !== undefined && i.json !== undefined ? ['give `text` or `json`, not both'] : []),
  async run(ctx) {
    const { text, json } = ctx.inputs;
    const name = ctx.inputs.file ?? (json !== undefined ? 'out.json' : 'out.txt');
    await writeFile(join(ctx.outDir, name), json !== undefined ? `${JSON.stringify(json, null, 2)}\n` : text!);
    ctx.log(`wrote ${name}`);
  },
});
export default stage;
