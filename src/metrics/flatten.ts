// Metrics files (JSON or YAML) → flat maps of dotted keys to scalar values.
import { yamlLibrary } from '../pipeline/source.js';

export type MetricValue = number | string | boolean | null;
export type FlatMetrics = Record<string, MetricValue>;

/**
 * Nested keys become `a.b.c`; array elements are indexed (`a.0.b`), so a list of per-class
 * scores stays comparable element by element. A file holding a bare scalar gives the key ''.
 */
export function flattenMetrics(value: unknown, prefix = '', out: FlatMetrics = {}): FlatMetrics {
  if (Array.isArray(value)) {
    value.forEach((v, i) => flattenMetrics(v, prefix ? `${prefix}.${i}` : String(i), out));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flattenMetrics(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (value === null || typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
    out[prefix] = value;
  } else if (typeof value === 'bigint') {
    out[prefix] = Number(value);
  } else if (value instanceof Date) {
    out[prefix] = (value as Date).toISOString();
  }
  return out;
}

/** Parse a metrics file's text; JSON first (fast, exact), then YAML. Throws a plain Error on bad syntax. */
export function parseMetricsText(text: string, label: string): FlatMetrics {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    try {
      value = yamlLibrary().parse(text, { maxAliasCount: 100 });
    } catch (e) {
      throw new Error(`${label} is neither JSON nor YAML: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return flattenMetrics(value);
}
