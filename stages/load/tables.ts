// Readers for the table formats `load` accepts. Each yields records with the source line number,
// so that errors can point at the line.
import { StageInputError } from 'fisherflow';
import { parseJsonlLines } from '../../ml/jsonl/index.js';

export interface Table {
  columns: string[];
  /** Each record's fields by column name, and the file line it starts on (1-based). */
  records: Array<{ values: Record<string, unknown>; line: number }>;
  /** What `line` counts: text lines, or rows (Parquet). */
  unit?: 'line' | 'row';
}

/** GLUE-style TSV: tab-separated, header first, no quoting (quotes are part of the text). */
export function parseTsv(text: string, file: string): Table {
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new StageInputError(`${file}: empty file, expected a header line`);
  const strip = (l: string): string => (l.endsWith('\r') ? l.slice(0, -1) : l);
  const columns = strip(lines[0]!).split('\t');
  const records: Table['records'] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = strip(lines[i]!);
    if (line === '') continue;
    const fields = line.split('\t');
    if (fields.length !== columns.length) {
      throw new StageInputError(`${file}: line ${i + 1}: ${fields.length} tab-separated fields, expected ${columns.length} (${columns.join(', ')})`);
    }
    const values: Record<string, unknown> = {};
    columns.forEach((c, k) => { values[c] = fields[k]; });
    records.push({ values, line: i + 1 });
  }
  return { columns, records };
}

/** RFC 4180 CSV: comma-separated, double-quoted fields may hold commas, quotes ("") and newlines. */
export function parseCsv(text: string, file: string): Table {
  const rows: Array<{ fields: string[]; line: number }> = [];
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let rowLine = 1;
  let fieldStarted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') { field += '"'; i++; } else inQuotes = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && !fieldStarted) { inQuotes = true; fieldStarted = true; continue; }
    if (ch === ',') { fields.push(field); field = ''; fieldStarted = false; continue; }
    if (ch === '\r' && text[i + 1] === '\n') continue;
    if (ch === '\n') {
      fields.push(field);
      if (!(fields.length === 1 && fields[0] === '')) rows.push({ fields, line: rowLine });
      fields = []; field = ''; fieldStarted = false;
      line++; rowLine = line;
      continue;
    }
    field += ch;
    fieldStarted = true;
  }
  if (inQuotes) throw new StageInputError(`${file}: line ${rowLine}: quoted field is never closed`);
  if (field !== '' || fields.length) {
    fields.push(field);
    rows.push({ fields, line: rowLine });
  }
  if (rows.length === 0) throw new StageInputError(`${file}: empty file, expected a header line`);
  const columns = rows[0]!.fields;
  const records: Table['records'] = [];
  for (const r of rows.slice(1)) {
    if (r.fields.length !== columns.length) {
      throw new StageInputError(`${file}: line ${r.line}: ${r.fields.length} comma-separated fields, expected ${columns.length} (${columns.join(', ')})`);
    }
    const values: Record<string, unknown> = {};
    columns.forEach((c, k) => { values[c] = r.fields[k]; });
    records.push({ values, line: r.line });
  }
  return { columns, records };
}

/** JSON lines: one object per line; the columns are the union of keys, in first-seen order. */
export function parseJsonl(text: string, file: string): Table {
  const seen = new Set<string>();
  const records: Table['records'] = parseJsonlLines(text, file).map(({ value, line }) => {
    for (const k of Object.keys(value)) seen.add(k);
    return { values: value, line };
  });
  return { columns: [...seen], records };
}

/** Parquet (as the Hugging Face hub stores data sets), read with hyparquet; "line" is the row number. */
export async function parseParquet(buf: Buffer, file: string): Promise<Table> {
  const { parquetMetadata, parquetReadObjects, parquetSchema } = await import('hyparquet');
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  let objects: Array<Record<string, unknown>>;
  let columns: string[];
  try {
    const metadata = parquetMetadata(ab);
    columns = parquetSchema(metadata).children.map((c) => c.element.name);
    objects = await parquetReadObjects({ file: ab, metadata });
  } catch (e) {
    throw new StageInputError(`${file}: not a readable Parquet file (${(e as Error).message})`);
  }
  const records: Table['records'] = objects.map((o, i) => {
    const values: Record<string, unknown> = {};
    // INT64 columns arrive as BigInt, which JSON cannot hold; class labels and ids fit a number.
    for (const [k, v] of Object.entries(o)) values[k] = typeof v === 'bigint' ? Number(v) : v;
    return { values, line: i + 1 };
  });
  return { columns, records, unit: 'row' };
}
