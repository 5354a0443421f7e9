// Vocabulary size of a tokenizer folder, added tokens included (what the embeddings must cover).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StageInputError } from 'fisherflow';

/**
 * `tokenizer.json` (model.vocab + added_tokens) when present, otherwise `vocab.txt` lines plus
 * `added_tokens.json`. The size is the largest id + 1, as `len(tokenizer)` in transformers.
 */
export function tokenizerVocabSize(dir: string): number {
  const tj = join(dir, 'tokenizer.json');
  if (existsSync(tj)) {
    let doc: { model?: { vocab?: Record<string, number> | Array<unknown> }; added_tokens?: Array<{ id: number }> };
    try { doc = JSON.parse(readFileSync(tj, 'utf8')); } catch (e) {
      throw new StageInputError(`${tj}: not valid JSON (${(e as Error).message})`);
    }
    let max = -1;
    const vocab = doc.model?.vocab;
    if (Array.isArray(vocab)) max = vocab.length - 1; // Unigram: [token, score] pairs
    else if (vocab) for (const id of Object.values(vocab)) if (id > max) max = id;
    for (const t of doc.added_tokens ?? []) if (t.id > max) max = t.id;
    if (max < 0) throw new StageInputError(`${tj}: model.vocab is empty or missing`);
    return max + 1;
  }
  const vt = join(dir, 'vocab.txt');
  if (!existsSync(vt)) throw new StageInputError(`tokenizer: ${dir} has neither tokenizer.json nor vocab.txt`);
  let size = readFileSync(vt, 'utf8').split('\n').filter((l, i, a) => l !== '' || i < a.length - 1).length;
  const at = join(dir, 'added_tokens.json');
  if (existsSync(at)) {
    const added = JSON.parse(readFileSync(at, 'utf8')) as Record<string, number>;
    for (const id of Object.values(added)) size = Math.max(size, id + 1);
  }
  return size;
}
