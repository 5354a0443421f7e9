// A BERT WordPiece tokenizer that behaves like Hugging Face's BertTokenizerFast for single
// sentences: `@huggingface/tokenizers` does normalisation, added-token splitting, pre-tokenising
// and WordPiece; this wrapper adds what transformers adds on top (add_tokens ids, truncation,
// save_pretrained's file set).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

export interface EncodeOptions {
  /** Truncate to `maxLength` (default: the folder's model_max_length, 512 for BERT) like `truncation=True`. */
  truncation?: boolean;
  maxLength?: number;
  /** Add [CLS] … [SEP] (default true). */
  addSpecialTokens?: boolean;
}

export interface Encoded {
  inputIds: number[];
  tokenTypeIds: number[];
  attentionMask: number[];
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
  /** transformers' clean_up_tokenization_spaces (default true, as for BERT). */
  cleanUpTokenizationSpaces?: boolean;
}

export interface LoadOptions {
  /** Tokens to add like `tokenizer.add_tokens([...])`: non-special, normalized, appended ids. */
  addTokens?: readonly string[];
}

interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** The error for a tokenizer folder that cannot be used (the stages wrap it as StageInputError). */
export class TokenizerLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerLoadError';
  }
}

function readJson(path: string): any {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TokenizerLoadError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** tokenizer.json for a BERT vocab.txt, as transformers' converter builds it. */
function tokenizerJsonFromVocab(vocabLines: string[], config: Record<string, any>): any {
  const vocab: Record<string, number> = {};
  vocabLines.forEach((tok, i) => { vocab[tok] = i; });
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter((t) => t in vocab);
  const lower = config.do_lower_case ?? true;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((t) => ({ id: vocab[t]!, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: config.tokenize_chinese_chars ?? true, strip_accents: config.strip_accents ?? null, lowercase: lower },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [vocab['[CLS]']], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [vocab['[SEP]']], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

const CHUNK_CACHE_LIMIT = 1_000_000;
/** Characters BertNormalizer turns into a plain space (whitespace that is not a control char). */
const SEPARATORS = /[ \t\n\r]+/;

/**
 * Whether encoding whitespace-separated chunks one by one and concatenating gives exactly the
 * ids of encoding the whole text. True for BERT: BertNormalizer works per character and maps
 * space/\t/\n/\r to a space, BertPreTokenizer splits there, WordPiece works per word, and an
 * added token without whitespace in it and without lstrip/rstrip cannot match across a space.
 */
function chunkable(tj: any): boolean {
  const normalizerOk = tj.normalizer == null || tj.normalizer.type === 'BertNormalizer';
  const preOk = tj.pre_tokenizer?.type === 'BertPreTokenizer';
  const addedOk = (tj.added_tokens as AddedTokenJson[]).every((t) => !t.lstrip && !t.rstrip && !/\s/.test(t.content));
  return normalizerOk && preOk && tj.model?.type === 'WordPiece' && addedOk;
}

export class BertTokenizer {
  private readonly tok: Tokenizer;
  private readonly idToTokenTable: string[];
  private readonly tokenToIdTable: Map<string, number>;
  private readonly specialIds: Set<number>;
  /** Ids per whitespace-separated chunk (most words recur: SST-2 train has ~16k distinct). */
  private readonly chunkCache: Map<string, number[]> | null;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly unkId: number;
  readonly modelMaxLength: number;

  private constructor(
    private readonly tokenizerJson: any,
    private readonly config: Record<string, any>,
    private readonly specialTokensMap: Record<string, unknown>,
    /** Size of the WordPiece vocabulary without added tokens (vocab.txt lines). */
    readonly baseVocabSize: number,
  ) {
    this.tok = new Tokenizer(tokenizerJson, { ...config, clean_up_tokenization_spaces: false });
    this.chunkCache = chunkable(tokenizerJson) ? new Map() : null;
    this.tokenToIdTable = new Map(Object.entries(tokenizerJson.model.vocab as Record<string, number>));
    for (const t of tokenizerJson.added_tokens as AddedTokenJson[]) this.tokenToIdTable.set(t.content, t.id);
    this.idToTokenTable = [];
    for (const [t, id] of this.tokenToIdTable) this.idToTokenTable[id] = t;
    this.specialIds = new Set((tokenizerJson.added_tokens as AddedTokenJson[]).filter((t) => t.special).map((t) => t.id));
    const need = (t: string): number => {
      const id = this.tokenToIdTable.get(t);
      if (id === undefined) throw new TokenizerLoadError(`vocabulary has no ${t} token`);
      return id;
    };
    this.clsId = need('[CLS]');
    this.sepId = need('[SEP]');
    this.padId = need('[PAD]');
    this.unkId = need('[UNK]');
    const mml = Number(config.model_max_length);
    // transformers uses a huge sentinel when the config has no limit; BERT checkpoints say 512.
    this.modelMaxLength = Number.isFinite(mml) && mml > 0 && mml < 1e6 ? mml : 512;
  }

  /**
   * Load from a model or tokenizer folder: tokenizer.json (preferred) or vocab.txt, plus
   * tokenizer_config.json and special_tokens_map.json when present.
   */
  static load(dir: string, opts: LoadOptions = {}): BertTokenizer {
    if (!existsSync(dir)) throw new TokenizerLoadError(`tokenizer folder ${dir} does not exist`);
    const configPath = join(dir, 'tokenizer_config.json');
    const config: Record<string, any> = existsSync(configPath) ? readJson(configPath) : {};
    const stmPath = join(dir, 'special_tokens_map.json');
    const specialTokensMap = existsSync(stmPath) ? readJson(stmPath) : { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' };
    const tjPath = join(dir, 'tokenizer.json');
    const vocabPath = join(dir, 'vocab.txt');
    let tj: any;
    let baseVocabSize: number;
    if (existsSync(tjPath)) {
      tj = readJson(tjPath);
      if (tj?.model?.type !== 'WordPiece') throw new TokenizerLoadError(`${tjPath}: expected a WordPiece (BERT) model, found ${tj?.model?.type}`);
      baseVocabSize = Object.keys(tj.model.vocab).length;
    } else if (existsSync(vocabPath)) {
      const lines = readFileSync(vocabPath, 'utf8').split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      tj = tokenizerJsonFromVocab(lines, config);
      baseVocabSize = lines.length;
    } else {
      throw new TokenizerLoadError(`${dir}: no tokenizer.json or vocab.txt in the tokenizer folder`);
    }
    // The library's own truncation/padding settings are not used: transformers overrides them per call.
    tj = { ...tj, truncation: null, padding: null, added_tokens: [...(tj.added_tokens ?? [])] };
    const byContent = new Map<string, AddedTokenJson>((tj.added_tokens as AddedTokenJson[]).map((t) => [t.content, t]));
    let nextId = Math.max(baseVocabSize - 1, ...(tj.added_tokens as AddedTokenJson[]).map((t) => t.id)) + 1;
    for (const content of opts.addTokens ?? []) {
      if (typeof content !== 'string' || content.length === 0) throw new TokenizerLoadError(`add_tokens: expected non-empty strings, got ${JSON.stringify(content)}`);
      if (byContent.has(content)) continue; // already added: add_tokens is idempotent
      // As in the Rust AddedVocabulary: a token already in the WordPiece vocab keeps its id.
      const existing = tj.model.vocab[content] as number | undefined;
      const t: AddedTokenJson = { id: existing ?? nextId++, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: false };
      tj.added_tokens.push(t);
      byContent.set(content, t);
    }
    return new BertTokenizer(tj, config, specialTokensMap, baseVocabSize);
  }

  /** Number of ids, added tokens included (what `len(tokenizer)` gives). */
  get vocabSize(): number {
    return this.idToTokenTable.length;
  }

  /** Added tokens that are not special (e.g. zeroa, onea, synt), in id order. */
  get addedTokens(): Array<{ content: string; id: number }> {
    return (this.tokenizerJson.added_tokens as AddedTokenJson[]).filter((t) => !t.special).map((t) => ({ content: t.content, id: t.id })).sort((a, b) => a.id - b.id);
  }

  tokenToId(token: string): number | undefined {
    return this.tokenToIdTable.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.idToTokenTable[id];
  }

  /** The WordPiece tokens of a text, without [CLS]/[SEP]. */
  tokenize(text: string): string[] {
    return this.tok.tokenize(text, { add_special_tokens: false });
  }

  /** Content ids of a text, without [CLS]/[SEP]; chunk by chunk through the cache when exact. */
  private contentIds(text: string): number[] {
    if (text.length === 0) return [];
    const cache = this.chunkCache;
    if (cache === null) return this.tok.encode(text, { add_special_tokens: false }).ids;
    const ids: number[] = [];
    for (const chunk of text.split(SEPARATORS)) {
      if (chunk === '') continue;
      let chunkIds = cache.get(chunk);
      if (chunkIds === undefined) {
        const fresh: number[] = this.tok.encode(chunk, { add_special_tokens: false }).ids;
        if (cache.size < CHUNK_CACHE_LIMIT) cache.set(chunk, fresh);
        chunkIds = fresh;
      }
      for (const id of chunkIds) ids.push(id);
    }
    return ids;
  }

  /** `tokenizer(text, truncation=..., max_length=...)` for one sentence, unpadded. */
  encode(text: string, opts: EncodeOptions = {}): Encoded {
    let ids = this.contentIds(text);
    const addSpecial = opts.addSpecialTokens ?? true;
    if (opts.truncation) {
      const maxLength = opts.maxLength ?? this.modelMaxLength;
      const room = maxLength - (addSpecial ? 2 : 0);
      if (room < 0) throw new RangeError(`max_length ${maxLength} leaves no room for [CLS] and [SEP]`);
      if (ids.length > room) ids = ids.slice(0, room);
    }
    const inputIds = addSpecial ? [this.clsId, ...ids, this.sepId] : ids;
    return {
      inputIds,
      tokenTypeIds: new Array<number>(inputIds.length).fill(0),
      attentionMask: new Array<number>(inputIds.length).fill(1),
    };
  }

  /**
   * `tokenizer.decode(ids, skip_special_tokens=...)` of BertTokenizerFast: WordPiece decoder
   * (joins ## pieces, per-token clean-up) followed by transformers' clean_up_tokenization.
   */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? false;
    const kept = skip ? ids.filter((id) => !this.specialIds.has(id)) : [...ids];
    if (kept.length === 0) return '';
    return this.tok.decode(kept, { skip_special_tokens: false, clean_up_tokenization_spaces: opts.cleanUpTokenizationSpaces ?? true });
  }

  /**
   * Write the files `save_pretrained` writes (tokenizer.json with the added tokens,
   * tokenizer_config.json, special_tokens_map.json, vocab.txt, added_tokens.json), so that
   * transformers' AutoTokenizer.from_pretrained(dir) gives the same vocabulary.
   */
  save(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const tj = { ...this.tokenizerJson, truncation: null, padding: null };
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tj));
    const vocab = this.tokenizerJson.model.vocab as Record<string, number>;
    const byId: string[] = [];
    for (const [t, id] of Object.entries(vocab)) byId[id] = t;
    writeFileSync(join(dir, 'vocab.txt'), byId.join('\n') + '\n');
    const added: Record<string, number> = {};
    for (const t of this.addedTokens) if (t.id >= this.baseVocabSize) added[t.content] = t.id;
    writeFileSync(join(dir, 'added_tokens.json'), JSON.stringify(added, null, 2) + '\n');
    const addedTokensDecoder: Record<string, unknown> = {};
    for (const t of this.tokenizerJson.added_tokens as AddedTokenJson[]) {
      addedTokensDecoder[String(t.id)] = { content: t.content, lstrip: t.lstrip, normalized: t.normalized, rstrip: t.rstrip, single_word: t.single_word, special: t.special };
    }
    const config = {
      ...this.config,
      do_lower_case: this.config.do_lower_case ?? !!this.tokenizerJson.normalizer?.lowercase,
      model_max_length: this.modelMaxLength,
      clean_up_tokenization_spaces: true,
      tokenizer_class: this.config.tokenizer_class ?? 'BertTokenizer',
      added_tokens_decoder: addedTokensDecoder,
    };
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
    writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify(this.specialTokensMap, null, 2) + '\n');
  }
}
