// `load`: a table file (TSV/CSV/JSONL, optionally gzipped, or Parquet) → data.jsonl rows {idx, sentence, label, ...}.
// `shuffle_seed` + `take` reproduce Hugging Face `Dataset.shuffle(seed=S).select(range(N))`.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage, PATH_KEYWORD, StageInputError } from 'fisherflow';
import { readTextFile, writeJsonl, type TextRow } from '../../ml/jsonl/index.js';
import { numpyPermutation } from '../../ml/rng/index.js';
import { parseCsv, parseJsonl, parseParquet, parseTsv, type Table } from './tables.js';

export interface LoadInputs {
  path: string;
  format?: 'tsv' | 'csv' | 'jsonl' | 'parquet';
  /** Source column names: `text` becomes `sentence`, `label` becomes `label` (null: unlabelled, -1). */
  columns?: { text?: string; label?: string | null };
  /** HF-style row slice of the file, applied first: "[:1000]", "[100:200]", "[:10%]". */
  split?: string;
  /** Keep rows whose output fields equal the value (or one of the values). */
  filter?: Record<string, string | number | boolean | Array<string | number | boolean>>;
  shuffle_seed?: number;
  take?: number;
}

const SLICE = /^\[\s*(-?\d+%?)?\s*:\s*(-?\d+%?)?\s*\]$/;

function formatOf(inputs: LoadInputs): NonNullable<LoadInputs['format']> {
  if (inputs.format) return inputs.format;
  const name = inputs.path.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.tsv')) return 'tsv';
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.jsonl') || name.endsWith('.json') || name.endsWith('.ndjson')) return 'jsonl';
  if (name.endsWith('.parquet')) return 'parquet';
  throw new StageInputError(`with.path: cannot tell the format of ${inputs.path} from its name; set with.format to tsv, csv, jsonl or parquet`);
}

/** Resolve an HF-style slice bound against n rows (percentages round to the closest row). */
function bound(b: string | undefined, n: number, dflt: number): number {
  if (b === undefined) return dflt;
  let v = b.endsWith('%') ? Math.round((Number(b.slice(0, -1)) / 100) * n) : Number(b);
  if (v < 0) v += n;
  return Math.min(Math.max(v, 0), n);
}

function parseLabel(v: unknown, where: string, column: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return Number(v);
  throw new StageInputError(`${where}, column "${column}": label ${JSON.stringify(v)} is not an integer class`);
}

const stage = defineStage<LoadInputs>({
  stageApiVersion: 1,
  type: 'load',
  description: 'Read a TSV/CSV/JSONL (gzip ok) or Parquet table into data.jsonl rows {idx, sentence, label}, with HF-exact shuffle_seed and take.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', [PATH_KEYWORD]: true, description: 'Table file (.tsv, .csv, .jsonl, optionally .gz; or .parquet).' },
      format: { enum: ['tsv', 'csv', 'jsonl', 'parquet'], description: 'File format when the name does not tell.' },
      columns: {
        type: 'object',
        additionalProperties: false,
        properties: {
          text: { type: 'string', description: 'Source column for `sentence` (default sentence).' },
          label: { type: ['string', 'null'], description: 'Source column for `label` (default label); null for unlabelled data (label -1).' },
        },
      },
      split: { type: 'string', description: 'HF-style row slice applied first, e.g. "[:1000]" or "[10%:20%]".' },
      filter: { type: 'object', description: 'Keep rows whose fields equal these values, e.g. {label: 1}.' },
      shuffle_seed: { type: 'integer', minimum: 0, description: 'Order rows as HF Dataset.shuffle(seed) (numpy default_rng permutation).' },
      take: { type: 'integer', minimum: 1, description: 'Keep the first N rows (after shuffling), like .select(range(N)).' },
    },
  },
  outputs: () => ({ data: { path: 'data.jsonl', kind: 'file', description: 'One JSON object per example: idx, sentence, label, other columns.' } }),
  check(inputs) {
    const msgs: string[] = [];
    if (inputs.split !== undefined && !SLICE.test(inputs.split)) msgs.push(`with.split: "${inputs.split}" is not a slice like "[:1000]" or "[10%:20%]"`);
    if (inputs.take !== undefined && !(Number.isInteger(inputs.take) && inputs.take > 0)) msgs.push('with.take: expected a positive integer');
    if (inputs.shuffle_seed !== undefined && !(Number.isSafeInteger(inputs.shuffle_seed) && inputs.shuffle_seed >= 0)) msgs.push('with.shuffle_seed: expected a non-negative integer');
    return msgs;
  },
  async run(ctx) {
    const inputs = ctx.inputs;
    for (const m of stage.check!(inputs)) throw new StageInputError(m);
    const file = inputs.path;
    const format = formatOf(inputs);
    let table: Table;
    if (format === 'parquet') {
      if (!existsSync(file)) throw new StageInputError(`with.path: file ${file} does not exist`);
      table = await parseParquet(readFileSync(file), file);
    } else {
      const text = readTextFile(file, 'with.path');
      table = format === 'tsv' ? parseTsv(text, file) : format === 'csv' ? parseCsv(text, file) : parseJsonl(text, file);
    }
    const textCol = inputs.columns?.text ?? 'sentence';
    const labelCol = inputs.columns?.label === null ? null : inputs.columns?.label ?? 'label';
    for (const [role, col] of [['text', textCol], ['label', labelCol]] as const) {
      if (col !== null && !table.columns.includes(col)) {
        throw new StageInputError(`${file}: no column "${col}" (with.columns.${role}); the file has: ${table.columns.join(', ') || '(none)'}`);
      }
    }

    let rows: TextRow[] = table.records.map((rec, i) => {
      const v = rec.values;
      const where = `${file}: ${table.unit ?? 'line'} ${rec.line}`;
      const sentence = v[textCol];
      if (typeof sentence !== 'string') {
        throw new StageInputError(`${where}, column "${textCol}": expected text, got ${JSON.stringify(sentence)}`);
      }
      const row: TextRow = { idx: i, sentence, label: labelCol === null ? -1 : parseLabel(v[labelCol], where, labelCol) };
      for (const [k, val] of Object.entries(v)) {
        if (k !== textCol && k !== labelCol && !(k in row)) row[k] = val;
      }
      return row;
    });

    if (inputs.split !== undefined) {
      const m = SLICE.exec(inputs.split)!;
      rows = rows.slice(bound(m[1], rows.length, 0), bound(m[2], rows.length, rows.length));
    }
    if (inputs.filter) {
      const fields = new Set(['idx', 'sentence', 'label', ...table.columns.filter((c) => c !== textCol && c !== labelCol)]);
      for (const [k, want] of Object.entries(inputs.filter)) {
        if (!fields.has(k)) throw new StageInputError(`with.filter.${k}: no such field in ${file}; rows have: ${[...fields].join(', ')}`);
        const allowed = Array.isArray(want) ? want : [want];
        rows = rows.filter((r) => allowed.some((a) => a === r[k] || String(a) === String(r[k])));
      }
    }
    if (rows.length === 0) {
      throw new StageInputError(`${file}: no rows left to load (empty data set${inputs.split || inputs.filter ? ' after with.split/with.filter' : ''})`);
    }
    if (inputs.shuffle_seed !== undefined) {
      const perm = numpyPermutation(inputs.shuffle_seed, rows.length);
      const src = rows;
      rows = perm.map((p) => src[p]!);
    }
    if (inputs.take !== undefined) {
      if (inputs.take > rows.length) throw new StageInputError(`with.take: ${inputs.take} is larger than the ${rows.length} rows of ${file}`);
      rows = rows.slice(0, inputs.take);
    }
    writeJsonl(join(ctx.outDir, 'data.jsonl'), rows);
    ctx.progress(rows.length, rows.length);
    ctx.log(`load: ${rows.length} rows from ${file} (${format}${inputs.shuffle_seed !== undefined ? `, shuffle_seed ${inputs.shuffle_seed}` : ''})`);
  },
});

export default stage;
