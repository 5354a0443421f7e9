// Tokenized SST-2-like examples for the model benchmarks (fim, evaluate): the dev set's sentence
// lengths, random token ids from a fixed seed.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/stage/registry.js';

/** SST-2-like examples: dev-set sentence lengths (≈1.3 word pieces per word + [CLS]/[SEP]), seeded ids. */
export function makeData(path: string, n: number): number {
  const dev = join(PACKAGE_ROOT, 'data', 'sst2', 'dev.tsv');
  const words = readFileSync(dev, 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t')[0].trim().split(/\s+/).length);
  let s = 12345;
  const rnd = () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 4294967296; };
  const lines: string[] = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const len = Math.min(126, Math.round(words[i % words.length] * 1.3)) + 2;
    total += len;
    const ids = [101, ...Array.from({ length: len - 2 }, () => 1000 + Math.floor(rnd() * 27996)), 102];
    lines.push(JSON.stringify({ input_ids: ids, token_type_ids: ids.map(() => 0), attention_mask: ids.map(() => 1), labels: i % 2 }));
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return total / n;
}
