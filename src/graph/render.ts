// `fisherflow dag` output formats.
import type { Dag } from './dag.js';
import type { Pipeline } from '../pipeline/load.js';

export type DagFormat = 'mermaid' | 'dot' | 'json' | 'text';

function mermaidId(name: string, ids: Map<string, string>): string {
  let id = ids.get(name);
  if (!id) {
    id = `s${ids.size}`;
    ids.set(name, id);
  }
  return id;
}

export function renderDag(pipeline: Pipeline, dag: Dag, format: DagFormat, status?: Map<string, string>): string {
  const edges: Array<[string, string]> = [];
  for (const n of dag.order) for (const u of [...dag.upstream.get(n)!].sort()) edges.push([u, n]);
  const label = (n: string) => {
    const s = pipeline.stages.get(n)!;
    return s.kind === 'command' ? n : `${n} (${s.type})`;
  };
  switch (format) {
    case 'json':
      return JSON.stringify(
        {
          stages: dag.order.map((n) => ({ name: n, type: pipeline.stages.get(n)!.type, needs: [...dag.upstream.get(n)!].sort(), ...(status ? { status: status.get(n) } : {}) })),
          edges: edges.map(([from, to]) => ({ from, to })),
        },
        null,
        2,
      );
    case 'dot': {
      const q = (s: string) => JSON.stringify(s);
      const lines = ['digraph fisherflow {', '  rankdir=LR;', '  node [shape=box, fontname="Helvetica"];'];
      for (const n of dag.order) lines.push(`  ${q(n)} [label=${q(label(n))}${status?.get(n) === 'stale' ? ', style=bold' : ''}];`);
      for (const [a, b] of edges) lines.push(`  ${q(a)} -> ${q(b)};`);
      lines.push('}');
      return lines.join('\n');
    }
    case 'mermaid': {
      const ids = new Map<string, string>();
      const lines = ['flowchart LR'];
      for (const n of dag.order) lines.push(`  ${mermaidId(n, ids)}["${label(n).replace(/"/g, '#quot;')}"]`);
      for (const [a, b] of edges) lines.push(`  ${mermaidId(a, ids)} --> ${mermaidId(b, ids)}`);
      return lines.join('\n');
    }
    default: {
      return dag.order.map((n) => `${label(n)}${dag.upstream.get(n)!.size ? `  ← ${[...dag.upstream.get(n)!].join(', ')}` : ''}`).join('\n');
    }
  }
}
