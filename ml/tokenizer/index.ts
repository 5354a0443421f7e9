// BERT tokenizer API for the rest of the project (stages, train, fim).
import { BertTokenizer, type LoadOptions } from './bert-tokenizer.js';

export { BertTokenizer, TokenizerLoadError } from './bert-tokenizer.js';
export type { DecodeOptions, EncodeOptions, Encoded, LoadOptions } from './bert-tokenizer.js';

/** `BertTokenizer.load(dir, { addTokens })` as a function. */
export function loadBertTokenizer(dir: string, opts: LoadOptions = {}): BertTokenizer {
  return BertTokenizer.load(dir, opts);
}
