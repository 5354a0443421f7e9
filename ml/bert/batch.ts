// Batches of tokenized examples, as the model consumes them.
import { readFile } from 'node:fs/promises';
import { StageInputError } from 'fisherflow';

export interface Batch {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  labels: Int32Array;
  batchSize: number;
  seqLen: number;
}

export interface TokenizedRow {
  input_ids: number[];
  token_type_ids?: number[];
  attention_mask?: number[];
  labels?: number;
  label?: number;
  [extra: string]: unknown;
}

/** Right-pads rows to the longest (or `padTo`) length; missing labels become -1. */
export function makeBatch(rows: TokenizedRow[], opts: { padTo?: number; padId?: number } = {}): Batch {
  const padId = opts.padId ?? 0;
  const longest = rows.reduce((m, r) => Math.max(m, r.input_ids.length), 0);
  const seqLen = Math.max(longest, opts.padTo ?? 0);
  const n = rows.length;
  const inputIds = new Int32Array(n * seqLen).fill(padId);
  const tokenTypeIds = new Int32Array(n * seqLen);
  const attentionMask = new Int32Array(n * seqLen);
  const labels = new Int32Array(n).fill(-1);
  rows.forEach((r, b) => {
    const o = b * seqLen;
    for (let t = 0; t < r.input_ids.length; t++) {
      inputIds[o + t] = r.input_ids[t];
      tokenTypeIds[o + t] = r.token_type_ids?.[t] ?? 0;
      attentionMask[o + t] = r.attention_mask?.[t] ?? 1;
    }
    const y = r.labels ?? r.label;
    if (typeof y === 'number') labels[b] = y;
  });
  return { inputIds, tokenTypeIds, attentionMask, labels, batchSize: n, seqLen };
}

/** Selects rows `from..to` of a batch (no copy of the typed arrays' buffers beyond subarray). */
export function sliceBatch(batch: Batch, from: number, to: number): Batch {
  const L = batch.seqLen;
  return {
    inputIds: batch.inputIds.subarray(from * L, to * L),
    tokenTypeIds: batch.tokenTypeIds.subarray(from * L, to * L),
    attentionMask: batch.attentionMask.subarray(from * L, to * L),
    labels: batch.labels.subarray(from, to),
    batchSize: to - from,
    seqLen: L,
  };
}

/** Reads the tokenize stage's data.jsonl: one JSON object per line with at least input_ids. */
export async function readTokenizedJsonl(path: string): Promise<TokenizedRow[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new StageInputError(`${path}: cannot read tokenized data (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const rows: TokenizedRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let obj: unknown;
    try { obj = JSON.parse(line); } catch (e) {
      throw new StageInputError(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const r = obj as TokenizedRow;
    if (!r || !Array.isArray(r.input_ids) || r.input_ids.some((x) => !Number.isInteger(x) || x < 0)) {
      throw new StageInputError(`${path}:${i + 1}: column input_ids: expected an array of non-negative integer token ids`);
    }
    for (const k of ['token_type_ids', 'attention_mask'] as const) {
      const v = r[k];
      if (v !== undefined && (!Array.isArray(v) || v.length !== r.input_ids.length)) {
        throw new StageInputError(`${path}:${i + 1}: column ${k}: expected an array as long as input_ids (${r.input_ids.length})`);
      }
    }
    const y = r.labels ?? r.label;
    if (y !== undefined && y !== null && !Number.isInteger(y)) {
      throw new StageInputError(`${path}:${i + 1}: column labels: expected an integer class id, got ${JSON.stringify(y)}`);
    }
    rows.push(r);
  }
  return rows;
}
