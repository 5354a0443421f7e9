// JSON-lines files, the row format the text stages pass between each other.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { StageInputError } from 'fisherflow';

/** A text example as load/shortcut/tokenize write it. */
export interface TextRow {
  idx: number;
  sentence: string;
  label: number;
  [column: string]: unknown;
}

/** File bytes as text, gunzipped when the file is gzip (by magic bytes, whatever its name). */
export function readTextFile(path: string, what = 'input'): string {
  if (!existsSync(path)) throw new StageInputError(`${what}: file ${path} does not exist`);
  let buf = readFileSync(path);
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      throw new StageInputError(`${path}: not a readable gzip file (${(e as Error).message})`);
    }
  }
  let text = buf.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // BOM
  return text;
}

/** Each JSON object of a JSON-lines text with its 1-based line number; blank lines are skipped, a bad line is reported with its number. */
export function parseJsonlLines(text: string, file: string): Array<{ value: Record<string, unknown>; line: number }> {
  const out: Array<{ value: Record<string, unknown>; line: number }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new StageInputError(`${file}: line ${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new StageInputError(`${file}: line ${i + 1}: expected a JSON object per line`);
    }
    out.push({ value: v as Record<string, unknown>, line: i + 1 });
  }
  return out;
}

/** Read a JSON-lines file (gzip ok) into its objects. */
export function readJsonl<T = Record<string, unknown>>(path: string, what = 'input'): T[] {
  return parseJsonlLines(readTextFile(path, what), path).map((r) => r.value as T);
}

/** Write rows, one JSON object per line (newline-terminated). */
export function writeJsonl(path: string, rows: Iterable<unknown>): void {
  const parts: string[] = [];
  for (const r of rows) parts.push(JSON.stringify(r));
  writeFileSync(path, parts.length ? parts.join('\n') + '\n' : '');
}

/**
 * Read text rows for a stage input and check the fields the text stages rely on:
 * `sentence` a string, `label` an integer; `idx` defaults to the line's position.
 */
export function readTextRows(path: string, inputName: string): TextRow[] {
  const rows = readJsonl<Record<string, unknown>>(path, `with.${inputName}`);
  if (rows.length === 0) throw new StageInputError(`with.${inputName}: ${path} has no rows (empty data set)`);
  rows.forEach((r, i) => {
    if (typeof r.sentence !== 'string') {
      throw new StageInputError(`${path}: row ${i + 1}: column "sentence" missing or not a string (with.${inputName})`);
    }
    if (typeof r.label !== 'number' || !Number.isInteger(r.label)) {
      throw new StageInputError(`${path}: row ${i + 1}: column "label" is ${JSON.stringify(r.label)}, expected an integer class`);
    }
    if (r.idx === undefined) r.idx = i;
  });
  return rows as TextRow[];
}
