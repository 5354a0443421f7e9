// `--metric PATTERN`: pick metrics by name; and which metrics tables show without --all. A pattern matches `file:key` or the bare key; `*`
// matches any run of characters (dots included), so `overlap.*` picks a whole subtree.
export type MetricPredicate = (file: string, key: string) => boolean;

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

export function metricFilter(patterns: string[] | undefined): MetricPredicate {
  if (!patterns?.length) return () => true;
  const res = patterns.map(globToRegExp);
  return (file, key) => res.some((r) => r.test(key) || r.test(key === '' ? file : `${file}:${key}`));
}

/**
 * What tables show by default: numbers and flags outside lists. A train stage's per-step loss
 * curve and per-epoch rows, an overlap's per-pair details and the device strings of its metadata
 * stay out of the way until --all (JSON and CSV always carry everything).
 */
export function isHeadlineMetric(key: string, value: unknown): boolean {
  return (typeof value === 'number' || typeof value === 'boolean' || value === null) && !/(^|\.)\d+(\.|$)/.test(key);
}
