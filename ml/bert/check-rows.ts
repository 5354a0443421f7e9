// Checks tokenized rows against the model they will be fed to, so a mismatch is a readable input
// error (file, row, column, what was expected) instead of a gather out of range deep in tfjs.
import { StageInputError } from 'fisherflow';
import type { TokenizedRow } from './batch.js';

export interface RowLimits {
  vocabSize: number;
  numLabels: number;
  maxPositions: number;
  typeVocabSize: number;
  /** padding: max_length — rows may not be longer. */
  padTo?: number;
}

/** `input` names the stage input (e.g. `data`, `eval.synthetic_dev`); rows are numbered from 1 (= jsonl lines). */
export function checkRows(input: string, file: string, rows: TokenizedRow[], lim: RowLimits): void {
  const where = (i: number, col: string) => `with.${input}: ${file}: row ${i + 1}, column ${col}`;
  if (rows.length === 0) throw new StageInputError(`with.${input}: ${file} has no rows`);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const y = r.labels ?? r.label;
    if (!Number.isInteger(y) || (y as number) < 0 || (y as number) >= lim.numLabels) {
      throw new StageInputError(`${where(i, 'labels')}: expected a class id 0..${lim.numLabels - 1}, got ${JSON.stringify(y ?? null)}`);
    }
    const ids = r.input_ids;
    if (ids.length === 0) throw new StageInputError(`${where(i, 'input_ids')}: empty`);
    if (ids.length > lim.maxPositions) {
      throw new StageInputError(`${where(i, 'input_ids')}: ${ids.length} tokens, more than the model's max_position_embeddings ${lim.maxPositions} (truncate when tokenizing)`);
    }
    if (lim.padTo !== undefined && ids.length > lim.padTo) {
      throw new StageInputError(`${where(i, 'input_ids')}: ${ids.length} tokens, longer than max_length ${lim.padTo} (raise max_length or truncate when tokenizing)`);
    }
    for (const id of ids) {
      if (id >= lim.vocabSize) {
        throw new StageInputError(`${where(i, 'input_ids')}: token id ${id} is outside the model's vocabulary (vocab_size ${lim.vocabSize}); was the data tokenized with another tokenizer?`);
      }
    }
    const tt = r.token_type_ids;
    if (tt) for (const t of tt) {
      if (!Number.isInteger(t) || t < 0 || t >= lim.typeVocabSize) {
        throw new StageInputError(`${where(i, 'token_type_ids')}: expected integers 0..${lim.typeVocabSize - 1}, got ${JSON.stringify(t)}`);
      }
    }
  }
}
