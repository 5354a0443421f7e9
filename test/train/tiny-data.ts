// The tiny tokenized fixtures (test/fixtures/train/tiny, made by make_tiny_data.py).
import { readTokenizedJsonl, type TokenizedRow } from '../../ml/bert/batch.js';
import { fixturePath } from './repo-root.js';

export const TINY_VOCAB = 24;
export const tinyPath = (name: string) => fixturePath(`tiny/${name}`);

export async function tinyData(): Promise<{ train: TokenizedRow[]; dev: TokenizedRow[] }> {
  return { train: await readTokenizedJsonl(tinyPath('train.jsonl')), dev: await readTokenizedJsonl(tinyPath('dev.jsonl')) };
}
