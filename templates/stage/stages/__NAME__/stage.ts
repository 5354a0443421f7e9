// `__NAME__`: a fisherflow stage (made by `fisherflow init --stage __NAME__`; edit it). It reads a
// data.jsonl and writes metrics.json, which `fisherflow metrics show` and `fisherflow diff` read.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStage, PATH_KEYWORD, StageInputError } from 'fisherflow';

interface Inputs {
  data: string;
}

export default defineStage<Inputs>({
  // The stage API this file is written for; fisherflow refuses to load it under another one.
  stageApiVersion: __STAGE_API_VERSION__,
  type: '__NAME__',
  description: 'Count the rows of a data.jsonl.',
  // The schema of `with:`: fisherflow checks a pipeline against it before anything runs.
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['data'],
    properties: {
      // A path input: resolved against the pipeline's folder, content-hashed into the stage key.
      data: { type: 'string', [PATH_KEYWORD]: true, description: 'A data.jsonl file: one JSON object per line.' },
    },
  },
  outputs: () => ({ metrics: { path: 'metrics.json', kind: 'file', metrics: true } }),
  async run(ctx) {
    const lines = (await readFile(ctx.inputs.data, 'utf8')).split('\n');
    let rows = 0;
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        JSON.parse(line);
      } catch {
        // Bad input is a StageInputError: shown to the user without a stack trace.
        throw new StageInputError(`with.data: ${ctx.inputs.data}:${i + 1} is not JSON`);
      }
      rows++;
    });
    await writeFile(join(ctx.outDir, 'metrics.json'), `${JSON.stringify({ rows }, null, 2)}\n`);
    ctx.log(`${rows} rows`);
  },
});
