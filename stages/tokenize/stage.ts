// `tokenize`: data.jsonl sentences → BERT inputs (unpadded), plus the tokenizer folder itself, so
// later stages and saved checkpoints use the same vocabulary (added tokens included).
import { join } from 'node:path';
import { defineStage, PATH_KEYWORD, HUB_KEYWORD, StageInputError } from 'fisherflow';
import { readTextRows, writeJsonl } from '../../ml/jsonl/index.js';
import { BertTokenizer, TokenizerLoadError } from '../../ml/tokenizer/index.js';

export interface TokenizeInputs {
  data: string;
  tokenizer: string;
  /** Tokens to add like `tokenizer.add_tokens([...])` (the shortcut pipelines use zeroa, onea, synt). */
  add_tokens?: string[];
  /** `truncation=True` (default true, as the seed's _tokenize_fn). */
  truncation?: boolean;
  /** Truncation length (default the tokenizer's model_max_length, 512 for BERT). */
  max_length?: number;
}

const stage = defineStage<TokenizeInputs>({
  stageApiVersion: 1,
  type: 'tokenize',
  description: 'Tokenize sentences with a BERT WordPiece tokenizer (HF BertTokenizerFast-exact); outputs input_ids rows and the tokenizer folder.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['data', 'tokenizer'],
    properties: {
      data: { type: 'string', [PATH_KEYWORD]: true, description: 'data.jsonl with sentence and label.' },
      tokenizer: { type: 'string', [PATH_KEYWORD]: true, [HUB_KEYWORD]: 'tokenizer', description: 'Tokenizer or model folder (tokenizer.json, or vocab.txt + tokenizer_config.json), or a Hugging Face id in the local cache.' },
      add_tokens: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'Tokens to add (non-special, new ids after the vocabulary); none by default.' },
      truncation: { type: 'boolean', description: 'Truncate to max_length (default true).' },
      max_length: { type: 'integer', minimum: 2, description: 'Length limit with [CLS] and [SEP] (default model_max_length, 512).' },
    },
  },
  outputs: () => ({
    data: { path: 'data.jsonl', kind: 'file', description: 'Rows {idx, sentence, label, input_ids, token_type_ids, attention_mask, labels}, unpadded.' },
    tokenizer: { path: 'tokenizer', kind: 'dir', description: 'The tokenizer as save_pretrained writes it, added tokens included.' },
  }),
  // CPU-bound for seconds on full SST-2: keep it off the engine's event loop.
  worker: true,
  check(inputs) {
    const msgs: string[] = [];
    if (inputs.max_length !== undefined && !(Number.isInteger(inputs.max_length) && inputs.max_length >= 2)) msgs.push('with.max_length: expected an integer of at least 2 ([CLS] and [SEP])');
    return msgs;
  },
  async run(ctx) {
    const inputs = ctx.inputs;
    for (const m of stage.check!(inputs)) throw new StageInputError(m);
    let tok: BertTokenizer;
    try {
      tok = BertTokenizer.load(inputs.tokenizer, { addTokens: inputs.add_tokens ?? [] });
    } catch (e) {
      if (e instanceof TokenizerLoadError) throw new StageInputError(`with.tokenizer: ${e.message}`);
      throw e;
    }
    const rows = readTextRows(inputs.data, 'data');
    const truncation = inputs.truncation ?? true;
    const out = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const enc = tok.encode(r.sentence, { truncation, maxLength: inputs.max_length });
      out[i] = { idx: r.idx, sentence: r.sentence, label: r.label, input_ids: enc.inputIds, token_type_ids: enc.tokenTypeIds, attention_mask: enc.attentionMask, labels: r.label };
      if ((i + 1) % 5000 === 0) {
        if (ctx.signal.aborted) throw new Error('tokenize: cancelled');
        ctx.progress(i + 1, rows.length);
      }
    }
    writeJsonl(join(ctx.outDir, 'data.jsonl'), out);
    tok.save(join(ctx.outDir, 'tokenizer'));
    ctx.progress(rows.length, rows.length);
    ctx.log(`tokenize: ${rows.length} rows, vocabulary ${tok.vocabSize}${tok.addedTokens.length ? ` (added ${tok.addedTokens.map((t) => `${t.content}=${t.id}`).join(', ')})` : ''}`);
  },
});

export default stage;
