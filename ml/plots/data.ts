// Plot data files as rows: JSON (a list of objects, or an object holding one, as DVC's
// `{"train": [...]}`), CSV and TSV (a header line, numbers read as numbers). Shared by
// `fisherflow plots` and the report stage.
import { StageInputError } from 'fisherflow';

export type Row = Record<string, unknown>;

/** The field name used for the row number when a plot names no x field. */
export const STEP_FIELD = 'step';

function isRowList(v: unknown): v is Row[] {
  return Array.isArray(v) && v.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r));
}

/** Rows of a plot file; `name` (its file name) decides the format, `label` names it in errors. */
export function parsePlotRows(text: string, name: string, label = name): Row[] {
  if (/\.json$/i.test(name)) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new StageInputError(`${label}: not valid JSON (${(e as Error).message})`);
    }
    if (isRowList(v)) return v;
    if (v !== null && typeof v === 'object') {
      const lists = Object.values(v).filter(isRowList);
      if (lists.length === 1) return lists[0];
    }
    throw new StageInputError(`${label}: expected a list of objects (rows), or an object holding one such list`);
  }
  if (/\.(csv|tsv)$/i.test(name)) return parseDelimited(text, /\.tsv$/i.test(name) ? '\t' : ',', label);
  throw new StageInputError(`${label}: plots read .json, .csv and .tsv files (or images: .png, .jpg, .gif, .svg, .webp)`);
}

/** CSV/TSV with a header line; quoted CSV fields ("a, b", "say ""hi""") are read whole. */
function parseDelimited(text: string, sep: string, label: string): Row[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new StageInputError(`${label}: empty file (expected a header line)`);
  const split = (line: string): string[] => {
    if (sep === '\t' || !line.includes('"')) return line.split(sep);
    const out: string[] = [];
    let cur = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
        else if (c === '"') quoted = false;
        else cur += c;
      } else if (c === '"') quoted = true;
      else if (c === sep) out.push(cur), (cur = '');
      else cur += c;
    }
    out.push(cur);
    return out;
  };
  const header = split(lines[0]).map((h) => h.trim());
  return lines.slice(1).map((line) => {
    const cells = split(line);
    const row: Row = {};
    header.forEach((h, i) => {
      const raw = (cells[i] ?? '').trim();
      row[h] = raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    });
    return row;
  });
}

/** The x field and y fields to draw: as given, else the row number and the last numeric field. */
export function plotFields(rows: Row[], x: string | undefined, y: string[] | undefined, label: string): { x: string; y: string[] } {
  const fields = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  for (const f of [...(x ? [x] : []), ...(y ?? [])]) {
    if (rows.length && !fields.includes(f)) throw new StageInputError(`${label}: no field '${f}' (fields: ${fields.join(', ')})`);
  }
  const numeric = fields.filter((f) => f !== x && rows.some((r) => typeof r[f] === 'number'));
  const ys = y ?? (numeric.length ? [numeric[numeric.length - 1]] : []);
  if (ys.length === 0 && rows.length) throw new StageInputError(`${label}: no numeric field to draw; name one with y:`);
  return { x: x ?? STEP_FIELD, y: ys };
}
