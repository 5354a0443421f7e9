// The files of a Hugging Face checkpoint folder besides its weights.
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', 'added_tokens.json'];

/** Copies whichever tokenizer files `from` has into `to`; returns their names. */
export function copyTokenizerFiles(from: string, to: string): string[] {
  const copied: string[] = [];
  for (const f of TOKENIZER_FILES) {
    const src = join(from, f);
    if (existsSync(src)) {
      copyFileSync(src, join(to, f));
      copied.push(f);
    }
  }
  return copied;
}
