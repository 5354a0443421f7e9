// Files named by `metrics:` and `plots:` are outputs, or files inside an output folder (DVC's
// `eval/metrics.json` inside an `eval` output). One rule for both: the output whose path is the
// file, or the output folder that holds it (the innermost one).

/** The output that is `file` (sub '') or whose folder holds it; undefined when none does. */
export function outputHolding(outs: Record<string, string>, file: string): { output: string; sub: string } | undefined {
  const norm = file.replace(/^\.\//, '').replace(/\/+$/, '');
  let best: { output: string; sub: string; depth: number } | undefined;
  for (const [name, path] of Object.entries(outs)) {
    const dir = path.replace(/^\.\//, '').replace(/\/+$/, '');
    if (name === norm || dir === norm) return { output: name, sub: '' };
    if (norm.startsWith(`${dir}/`) && (!best || dir.length > best.depth)) best = { output: name, sub: norm.slice(dir.length + 1), depth: dir.length };
  }
  return best && { output: best.output, sub: best.sub };
}

/** A lock file's `metrics:` entry → the output and the file inside it (`NAME/sub/path`, the longest output name that fits). */
export function splitOutputEntry(entry: string, outputNames: Iterable<string>): { output: string; sub: string } {
  let best: string | undefined;
  for (const name of outputNames) {
    if (entry === name) return { output: name, sub: '' };
    if (entry.startsWith(`${name}/`) && (!best || name.length > best.length)) best = name;
  }
  return best ? { output: best, sub: entry.slice(best.length + 1) } : { output: entry, sub: '' };
}
