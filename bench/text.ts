// Benchmark: load + shortcut (create, st) + tokenize of all 67,349 SST-2 train sentences.
// Run: npx tsx bench/text.ts [--verify]   (or node dist/bench/text.js after tsc)
// --verify also (1) tokenizes every train sentence and every shortcut train sentence with the
// unmodified @huggingface/tokenizers pipeline and checks that BertTokenizer's fast paths give
// identical ids, and (2) compares the train ids with the independent Python reference
// (test/fixtures/text/train-token-digests.json, sha256 per 1,000 rows).
import { createHash } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import load from '../stages/load/stage.js';
import shortcut from '../stages/shortcut/stage.js';
import tokenize from '../stages/tokenize/stage.js';
import { readJsonl } from '../ml/jsonl/index.js';
import { BertTokenizer } from '../ml/tokenizer/index.js';
import { makeStageContext } from '../test/helpers/stage-context.js';
import type { StageModule } from '../src/stage/api.js';
import { PACKAGE_ROOT } from '../src/stage/registry.js';

const root = PACKAGE_ROOT;
const BERT = join(root, 'data', 'bert-base-cased');
const ADD = ['zeroa', 'onea', 'synt'];

async function timed<I>(name: string, stage: StageModule<I>, inputs: I): Promise<{ outDir: string; ms: number }> {
  const ctx = makeStageContext(inputs, { stage: name });
  const t = performance.now();
  await stage.run(ctx);
  const ms = performance.now() - t;
  console.log(`${name.padEnd(22)} ${(ms / 1000).toFixed(2).padStart(6)} s`);
  return { outDir: ctx.outDir, ms };
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const total0 = performance.now();
  const train = await timed('load train (gz)', load, { path: join(root, 'data', 'sst2', 'train.tsv.gz') });
  const dev = await timed('load dev', load, { path: join(root, 'data', 'sst2', 'dev.tsv') });
  const sc = await timed('shortcut create st', shortcut, {
    mode: 'create' as const, kind: 'st', tokenizer: BERT, add_tokens: ADD,
    train: join(train.outDir, 'data.jsonl'), validation: join(dev.outDir, 'data.jsonl'),
  });
  const tk = await timed('tokenize train', tokenize, { data: join(sc.outDir, 'train.jsonl'), tokenizer: BERT, add_tokens: ADD });
  const totalMs = performance.now() - total0;
  const rows = readJsonl<{ input_ids: number[] }>(join(tk.outDir, 'data.jsonl'));
  console.log(`${'total'.padEnd(22)} ${(totalMs / 1000).toFixed(2).padStart(6)} s  (${rows.length} train rows tokenized)`);

  if (process.argv.includes('--verify')) {
    const tok = BertTokenizer.load(BERT, { addTokens: ADD });
    const tj = JSON.parse(readFileSync(join(BERT, 'tokenizer.json'), 'utf8'));
    tj.truncation = null;
    let nextId = 28996;
    for (const content of ADD) tj.added_tokens.push({ id: nextId++, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: false });
    const plain = new Tokenizer(tj, {});
    const sentences = readJsonl<{ sentence: string }>(join(train.outDir, 'data.jsonl')).map((r) => r.sentence);
    const shortcutSentences = readJsonl<{ sentence: string }>(join(sc.outDir, 'train.jsonl')).map((r) => r.sentence);
    const all = [...sentences, ...shortcutSentences];
    let t = performance.now();
    const fast = all.map((s) => tok.encode(s).inputIds);
    const fastMs = performance.now() - t;
    t = performance.now();
    const slow = all.map((s) => plain.encode(s).ids);
    const slowMs = performance.now() - t;
    let mismatches = 0;
    fast.forEach((a, k) => {
      const b = slow[k]!;
      if (a.length !== b.length || a.some((v, i) => v !== b[i])) mismatches++;
    });
    console.log(`verify: ${all.length} sentences, ${mismatches} differ from the unmodified library`);
    const ref = JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'text', 'train-token-digests.json'), 'utf8')) as { chunk: number; sha256: string[] };
    let badChunks = 0;
    ref.sha256.forEach((want, c) => {
      const text = fast.slice(c * ref.chunk, Math.min((c + 1) * ref.chunk, sentences.length)).map((ids) => ids.join(',')).join('\n');
      if (createHash('sha256').update(text).digest('hex') !== want) badChunks++;
    });
    console.log(`verify: train ids vs independent Python reference: ${badChunks} of ${ref.sha256.length} chunks differ`);
    if (badChunks) process.exitCode = 1;
    console.log(`encode ${all.length}: BertTokenizer ${(fastMs / 1000).toFixed(2)} s, unmodified library ${(slowMs / 1000).toFixed(2)} s`);
    if (mismatches) process.exitCode = 1;
  }
}

await main();
