// `--metric PATTERN`: pick metrics by name. A pattern matches `file:key` or the bare key; `*`
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
