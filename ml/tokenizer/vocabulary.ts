// A tokenizer folder's vocabulary, added tokens included: its size sizes the embeddings (train),
// and two models' vocabularies must agree token by token before their weights are merged.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StageInputError } from 'fisherflow';

/**
 * Tokens by id from `tokenizer.json` (model.vocab + added_tokens) when present, otherwise
 * `vocab.txt` lines plus `added_tokens.json`; an id no token has is ''. The length is the largest
 * id + 1, as `len(tokenizer)` in transformers. null when the folder has no tokenizer files.
 */
export function readVocabulary(dir: string): string[] | null {
  const tokens: string[] = [];
  const put = (token: string, id: number) => {
    for (let i = tokens.length; i < id; i++) tokens[i] = '';
    tokens[id] = token;
  };
  const tj = join(dir, 'tokenizer.json');
  if (existsSync(tj)) {
    let doc: { model?: { vocab?: Record<string, number> | Array<[string, number]> }; added_tokens?: Array<{ id: number; content?: string }> };
    try { doc = JSON.parse(readFileSync(tj, 'utf8')); } catch (e) {
      throw new StageInputError(`${tj}: not valid JSON (${(e as Error).message})`);
    }
    const vocab = doc.model?.vocab;
    if (Array.isArray(vocab)) vocab.forEach(([t], i) => put(String(t), i)); // Unigram: [token, score] pairs
    else if (vocab) for (const [t, id] of Object.entries(vocab)) put(t, id);
    for (const t of doc.added_tokens ?? []) put(String(t.content ?? ''), t.id);
    if (tokens.length === 0) throw new StageInputError(`${tj}: model.vocab is empty or missing`);
    return tokens;
  }
  const vt = join(dir, 'vocab.txt');
  if (!existsSync(vt)) return null;
  readFileSync(vt, 'utf8').split('\n').filter((l, i, a) => l !== '' || i < a.length - 1).forEach((t, i) => put(t.replace(/\r$/, ''), i));
  const at = join(dir, 'added_tokens.json');
  if (existsSync(at)) {
    const added = JSON.parse(readFileSync(at, 'utf8')) as Record<string, number>;
    for (const [t, id] of Object.entries(added)) put(t, id);
  }
  return tokens;
}

/** Vocabulary size of a tokenizer folder, added tokens included (what the embeddings must cover). */
export function tokenizerVocabSize(dir: string): number {
  const tokens = readVocabulary(dir);
  if (!tokens) throw new StageInputError(`tokenizer: ${dir} has neither tokenizer.json nor vocab.txt`);
  return tokens.length;
}
