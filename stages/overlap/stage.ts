// overlap: the Fisher overlap of pairs of Fisher diagonals (fim stage outputs), overall and per
// parameter group, with an optional bootstrap interval over chunks of examples.
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defineStage, PATH_KEYWORD, StageInputError } from 'fisherflow';
import { SafetensorsFile } from '../../ml/safetensors/format.js';
import { bootstrapOverlap, fisherOverlap, type ChunkedFisher } from './overlap.js';

export interface PairSpec { a: string; b: string; label?: string; kind?: string; group?: string }
export interface OverlapInputs {
  /** name → fim.safetensors (or the fim stage's output folder). */
  fishers: Record<string, string>;
  pairs?: PairSpec[];
  all_pairs?: boolean;
  /** Bootstrap replicates over the fim stage's chunks (needs `chunks:` there). */
  bootstrap?: number;
  level?: number;
  seed?: number;
}

export interface OverlapPair extends PairSpec {
  overlap: number;
  groups: Record<string, number | null>;
  interval?: { low: number; high: number; level: number; replicates: number };
}
export interface OverlapJson {
  overlap: Record<string, number>;
  pairs: OverlapPair[];
  fishers: Record<string, Record<string, string>>;
}

/** The fim.safetensors a `fishers` entry names (a file, or a folder holding fim.safetensors). */
function fimFile(name: string, path: string): string {
  if (!existsSync(path)) throw new StageInputError(`with.fishers.${name}: ${path} does not exist`);
  if (statSync(path).isDirectory()) {
    const f = join(path, 'fim.safetensors');
    if (!existsSync(f)) throw new StageInputError(`with.fishers.${name}: folder ${path} has no fim.safetensors`);
    return f;
  }
  return path;
}

/** The chunk files written beside a fim.safetensors by the fim stage with `chunks: K`. */
function chunksOf(name: string, file: string): ChunkedFisher {
  const dir = join(dirname(file), 'chunks');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^chunk-\d+\.safetensors$/.test(f)).sort().map((f) => join(dir, f)) : [];
  if (files.length < 2) {
    throw new StageInputError(`with.fishers.${name}: bootstrap needs the Fisher's chunks (set chunks: K ≥ 2 in its fim stage); none found in ${dir}`);
  }
  const examples = files.map((f) => {
    const s = SafetensorsFile.open(f);
    try { return Number(s.metadata.examples ?? '1'); } finally { s.close(); }
  });
  return { files, examples };
}

/** The seed notebook's printout: `UNSHARED (TiC-OP) OVERLAP: 0.53…`, under group headings. */
export function overlapTable(pairs: OverlapPair[]): string {
  const lines: string[] = [];
  let group: string | undefined;
  for (const p of pairs) {
    if (p.group !== undefined && p.group !== group) lines.push(p.group);
    group = p.group;
    lines.push(`${p.label ?? `${p.a}~${p.b}`} OVERLAP: ${p.overlap}${p.interval ? ` (${Math.round(p.interval.level * 100)}% interval ${p.interval.low.toFixed(4)}–${p.interval.high.toFixed(4)})` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

const stage = defineStage<OverlapInputs>({
  stageApiVersion: 1,
  type: 'overlap',
  description: 'Fisher overlap of pairs of Fisher diagonals, overall and per parameter group, optional bootstrap interval → overlap.json',
  inputSchema: {
    type: 'object',
    required: ['fishers'],
    additionalProperties: false,
    properties: {
      fishers: {
        type: 'object',
        minProperties: 1,
        additionalProperties: { type: 'string', [PATH_KEYWORD]: true },
        description: 'name → fim.safetensors of a fim stage',
      },
      pairs: {
        type: 'array',
        items: {
          type: 'object',
          required: ['a', 'b'],
          additionalProperties: false,
          properties: {
            a: { type: 'string', description: 'a name in fishers' },
            b: { type: 'string' },
            label: { type: 'string', description: 'printed in table.txt and the report, e.g. "UNSHARED (TiC-OP)"' },
            kind: { type: 'string', description: 'a group of pairs compared in the report, e.g. shared / unshared' },
            group: { type: 'string', description: 'a heading in table.txt above this pair (the notebook: "TiC OP MODEL")' },
          },
        },
        description: 'pairs {a, b, label?, kind?, group?} to compare',
      },
      all_pairs: { type: 'boolean', default: false },
      bootstrap: { type: 'integer', minimum: 10, description: 'bootstrap replicates over the chunks of each Fisher' },
      level: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.95 },
      seed: { type: 'integer', default: 0 },
    },
  },
  outputs: () => ({
    overlap: { path: 'overlap.json', kind: 'file', metrics: true, description: 'overlap per pair and per parameter group' },
    table: { path: 'table.txt', kind: 'file', description: "the notebook's printout: a line `LABEL OVERLAP: value` per pair, under its group heading" },
  }),
  check(inputs) {
    const msgs: string[] = [];
    const names = Object.keys(inputs.fishers ?? {});
    if (!inputs.all_pairs && !(inputs.pairs && inputs.pairs.length)) msgs.push('with.pairs: give a list of pairs or all_pairs: true');
    (inputs.pairs ?? []).forEach((p, i) => {
      for (const side of ['a', 'b'] as const) {
        if (!names.includes(p[side])) msgs.push(`with.pairs[${i}].${side}: "${p[side]}" is not one of the fishers (${names.join(', ')})`);
      }
    });
    if (inputs.all_pairs && names.length < 2) msgs.push('with.all_pairs: needs at least two fishers');
    return msgs;
  },
  async run(ctx) {
    const inp = ctx.inputs;
    const problems = stage.check!(inp);
    if (problems.length) throw new StageInputError(problems.join('; '));
    const names = Object.keys(inp.fishers);
    const files = new Map(names.map((n) => [n, fimFile(n, inp.fishers[n])]));
    const pairs: PairSpec[] = [...(inp.pairs ?? [])];
    if (inp.all_pairs) {
      for (let i = 0; i < names.length; i++) for (let j = i + 1; j < names.length; j++) {
        if (!pairs.some((p) => (p.a === names[i] && p.b === names[j]) || (p.a === names[j] && p.b === names[i]))) pairs.push({ a: names[i], b: names[j] });
      }
    }
    const out: OverlapJson = { overlap: {}, pairs: [], fishers: {} };
    for (const n of names) {
      const f = SafetensorsFile.open(files.get(n)!);
      try { out.fishers[n] = f.metadata; } finally { f.close(); }
    }
    let done = 0;
    for (const p of pairs) {
      const r = fisherOverlap(files.get(p.a)!, files.get(p.b)!);
      const entry: OverlapPair = { a: p.a, b: p.b, ...(p.label !== undefined ? { label: p.label } : {}), ...(p.kind !== undefined ? { kind: p.kind } : {}), ...(p.group !== undefined ? { group: p.group } : {}), overlap: r.overlap, groups: r.groups };
      if (inp.bootstrap) {
        entry.interval = bootstrapOverlap(chunksOf(p.a, files.get(p.a)!), chunksOf(p.b, files.get(p.b)!), inp.bootstrap, inp.level ?? 0.95, inp.seed ?? 0);
      }
      out.overlap[`${p.a}~${p.b}`] = r.overlap;
      out.pairs.push(entry);
      ctx.log(`overlap ${p.a}~${p.b}${p.label ? ` (${p.label})` : ''}: ${r.overlap.toFixed(6)}${entry.interval ? ` [${entry.interval.low.toFixed(4)}, ${entry.interval.high.toFixed(4)}]` : ''}`);
      ctx.progress(++done, pairs.length, 'pairs');
    }
    writeFileSync(join(ctx.outDir, 'overlap.json'), JSON.stringify(out, null, 2) + '\n');
    writeFileSync(join(ctx.outDir, 'table.txt'), overlapTable(out.pairs));
  },
});

export default stage;
