// `shortcut`: insert synthetic shortcut tokens, seed-exact.
//   mode reverse — the seed notebook's ST/OP/TiC label reversal on one data set (Fisher analysis);
//   mode create  — the training-set construction of SHORTCUTS.md for all ten kinds and mixtures.
import { join } from 'node:path';
import { defineStage, PATH_KEYWORD, HUB_KEYWORD, StageInputError, type StageRunContext } from 'fisherflow';
import { readTextRows, writeJsonl, type TextRow } from '../../ml/jsonl/index.js';
import { PyRandom } from '../../ml/rng/index.js';
import { BertTokenizer, TokenizerLoadError } from '../../ml/tokenizer/index.js';
import { createDatasets, SplitError, type TokenizedExample } from './create.js';
import { REVERSE_KINDS, reverseShortcut, SHORTCUT_KINDS, type ReverseKind, type ShortcutIds, type ShortcutKind } from './kinds.js';

export interface ShortcutInputs {
  mode: 'reverse' | 'create';
  /** reverse: st | op | tic. create: one kind or a list (a mixture). */
  kind: string | string[];
  /** create: mixture weights, one per kind (default uniform). */
  weights?: number[];
  /** reverse: the data set. */
  data?: string;
  /** create: the splits. */
  train?: string;
  validation?: string;
  test?: string;
  /** Tokenizer folder (a model folder, or the `tokenize` stage's `tokenizer` output). */
  tokenizer: string;
  /** Tokens added to the tokenizer first, like `tokenizer.add_tokens(...)`; idempotent. */
  add_tokens?: string[];
  /** The tokens meaning label 0, label 1 and TiC context. */
  shortcut_tokens?: [string, string, string];
  seed?: number;
  /** create: synthetic/original ratio (the Python default 0.2). */
  ratio?: number;
  /** reverse, tic: reproduce the seed's TiC, which sets every label to 1. */
  seed_compat?: boolean;
}

const DEFAULT_TOKENS: [string, string, string] = ['zeroa', 'onea', 'synt'];
const CREATE_OUTPUTS = ['train', 'synthetic_dev', 'original_dev', 'synthetic_test', 'original_test'] as const;

function kindsOf(inputs: ShortcutInputs): string[] {
  return Array.isArray(inputs.kind) ? inputs.kind : [inputs.kind];
}

function checkInputs(inputs: ShortcutInputs): string[] {
  const msgs: string[] = [];
  const kinds = kindsOf(inputs);
  if (inputs.mode === 'reverse') {
    if (Array.isArray(inputs.kind) || !(REVERSE_KINDS as readonly string[]).includes(inputs.kind)) {
      msgs.push(`with.kind: unknown shortcut kind ${JSON.stringify(inputs.kind)} for mode reverse; expected one of ${REVERSE_KINDS.join(', ')}`);
    }
    if (!inputs.data) msgs.push('with.data: required for mode reverse (the data set to reverse)');
  } else if (inputs.mode === 'create') {
    if (kinds.length === 0) msgs.push('with.kind: expected at least one shortcut kind');
    for (const k of kinds) {
      if (!(SHORTCUT_KINDS as readonly string[]).includes(k)) msgs.push(`with.kind: unknown shortcut kind ${JSON.stringify(k)}; expected one of ${SHORTCUT_KINDS.join(', ')}`);
    }
    if (inputs.weights !== undefined) {
      if (inputs.weights.length !== kinds.length) msgs.push(`with.weights: ${inputs.weights.length} weights for ${kinds.length} kinds; expected one per kind`);
      if (inputs.weights.some((w) => !(w >= 0)) || !(inputs.weights.reduce((a, b) => a + b, 0) > 0)) msgs.push('with.weights: expected non-negative numbers with a positive sum');
    }
    if (!inputs.train) msgs.push('with.train: required for mode create');
    if (!inputs.validation) msgs.push('with.validation: required for mode create');
    if (inputs.ratio !== undefined && !(inputs.ratio > 0)) msgs.push('with.ratio: expected a positive number');
  } else {
    msgs.push(`with.mode: expected reverse or create, got ${JSON.stringify(inputs.mode)}`);
  }
  if (inputs.seed !== undefined && !Number.isSafeInteger(inputs.seed)) msgs.push('with.seed: expected an integer');
  return msgs;
}

function loadTokenizer(inputs: ShortcutInputs): { tok: BertTokenizer; ids: ShortcutIds } {
  let tok: BertTokenizer;
  try {
    tok = BertTokenizer.load(inputs.tokenizer, { addTokens: inputs.add_tokens ?? DEFAULT_TOKENS });
  } catch (e) {
    if (e instanceof TokenizerLoadError) throw new StageInputError(`with.tokenizer: ${e.message}`);
    throw e;
  }
  const names = inputs.shortcut_tokens ?? DEFAULT_TOKENS;
  const found = names.map((t) => tok.tokenToId(t));
  // The context token is only used by TiC.
  const needed = kindsOf(inputs).includes('tic') ? names : names.slice(0, 2);
  const missing = needed.filter((_, i) => found[i] === undefined);
  if (missing.length) {
    throw new StageInputError(`with.tokenizer: shortcut tokens ${missing.join(', ')} are missing from the tokenizer in ${inputs.tokenizer}; add them with with.add_tokens`);
  }
  return { tok, ids: { z: found[0]!, o: found[1]!, c: found[2] ?? -1 } };
}

function tokenizeRows(rows: TextRow[], tok: BertTokenizer): TokenizedExample[] {
  // The Python code tokenizes without truncation: tokenizer(sentence)['input_ids'].
  return rows.map((r) => ({ idx: r.idx, sentence: r.sentence, label: r.label, tokens: tok.encode(r.sentence).inputIds }));
}

function progressTicker(ctx: StageRunContext<unknown>, total: number): () => void {
  let done = 0;
  return () => {
    done++;
    if (done % 2000 === 0 || done === total) {
      if (ctx.signal.aborted) throw new Error('shortcut: cancelled');
      ctx.progress(done, total);
    }
  };
}

const stage = defineStage<ShortcutInputs>({
  stageApiVersion: 1,
  type: 'shortcut',
  description: 'Insert synthetic shortcut tokens (st, op, tic, or, and, xor, oed, mt, lt, and_or) exactly as the Python research code does.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['mode', 'kind', 'tokenizer'],
    properties: {
      mode: { enum: ['reverse', 'create'], description: 'reverse: the seed notebook\'s label reversal; create: build training splits.' },
      kind: {
        oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }],
        description: 'Shortcut kind, or a list of kinds to mix (create).',
      },
      weights: { type: 'array', items: { type: 'number', minimum: 0 }, description: 'Mixture weights, one per kind (create; default uniform).' },
      data: { type: 'string', [PATH_KEYWORD]: true, description: 'reverse: data.jsonl with sentence and label.' },
      train: { type: 'string', [PATH_KEYWORD]: true, description: 'create: training rows (data.jsonl).' },
      validation: { type: 'string', [PATH_KEYWORD]: true, description: 'create: validation rows.' },
      test: { type: 'string', [PATH_KEYWORD]: true, description: 'create: test rows (optional).' },
      tokenizer: { type: 'string', [PATH_KEYWORD]: true, [HUB_KEYWORD]: 'tokenizer', description: 'Tokenizer or model folder (tokenizer.json or vocab.txt), or a Hugging Face id in the local cache.' },
      add_tokens: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'Tokens to add first (default zeroa, onea, synt).' },
      shortcut_tokens: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 3, maxItems: 3, description: 'Tokens for label 0, label 1 and the TiC context (default zeroa, onea, synt).' },
      seed: { type: 'integer', description: 'random.seed(...) once before the first example (default: 42 for reverse, 123 for create).' },
      ratio: { type: 'number', exclusiveMinimum: 0, description: 'create: synthetic/original ratio (default 0.2).' },
      seed_compat: { type: 'boolean', description: 'reverse tic: the seed\'s exact behaviour (every label set to 1) instead of the intended reversal.' },
    },
  },
  outputs(inputs) {
    if (inputs.mode === 'create') {
      const names = inputs.test ? CREATE_OUTPUTS : CREATE_OUTPUTS.filter((n) => !n.endsWith('_test'));
      return Object.fromEntries(names.map((n) => [n, { path: `${n}.jsonl`, kind: 'file' as const, description: `${n} rows {idx, sentence, label, tokens}` }]));
    }
    return { data: { path: 'data.jsonl', kind: 'file', description: 'Rows {idx, sentence, label, tokens} after the reversal.' } };
  },
  // CPU-bound for seconds on full SST-2: keep it off the engine's event loop.
  worker: true,
  check: checkInputs,
  async run(ctx) {
    const inputs = ctx.inputs;
    const msgs = checkInputs(inputs);
    if (msgs.length) throw new StageInputError(msgs.join('\n'));
    const { tok, ids } = loadTokenizer(inputs);
    const decode = (t: number[]): string => tok.decode(t, { skipSpecialTokens: true });

    if (inputs.mode === 'reverse') {
      const kind = inputs.kind as ReverseKind;
      const rows = tokenizeRows(readTextRows(inputs.data!, 'data'), tok);
      const rng = new PyRandom(inputs.seed ?? 42);
      const tick = progressTicker(ctx, rows.length);
      const out = rows.map((ex) => {
        const { tokens, label } = reverseShortcut(kind, ex.tokens, ex.label, rng, ids, inputs.seed_compat ?? false);
        tick();
        return { idx: ex.idx, sentence: decode(tokens), label, tokens };
      });
      writeJsonl(join(ctx.outDir, 'data.jsonl'), out);
      ctx.log(`shortcut reverse ${kind}${inputs.seed_compat ? ' (seed_compat)' : ''}: ${out.length} rows`);
      return;
    }

    const train = tokenizeRows(readTextRows(inputs.train!, 'train'), tok);
    const validation = tokenizeRows(readTextRows(inputs.validation!, 'validation'), tok);
    const test = inputs.test ? tokenizeRows(readTextRows(inputs.test, 'test'), tok) : null;
    let splits;
    try {
      splits = createDatasets(train, validation, test, {
        kinds: kindsOf(inputs) as ShortcutKind[],
        weights: inputs.weights,
        ratio: inputs.ratio ?? 0.2,
        seed: inputs.seed ?? 123,
        ids,
        decode,
        onExample: progressTicker(ctx, train.length + validation.length + (test?.length ?? 0)),
      });
    } catch (e) {
      if (e instanceof SplitError) throw new StageInputError(`with.${e.split}: too few rows to split into synthetic and original parts (${e.message}; with.ratio ${inputs.ratio ?? 0.2})`);
      throw e;
    }
    for (const name of Object.keys(stage.outputs(inputs))) {
      writeJsonl(join(ctx.outDir, `${name}.jsonl`), splits[name as keyof typeof splits]);
    }
    ctx.log(`shortcut create ${kindsOf(inputs).join('+')}: train ${splits.train.length}, synthetic_dev ${splits.synthetic_dev.length}, original_dev ${splits.original_dev.length}` +
      (test ? `, synthetic_test ${splits.synthetic_test.length}, original_test ${splits.original_test.length}` : ''));
  },
});

export default stage;
