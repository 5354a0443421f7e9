// Stages → DAG: edges from artifact references, `needs:`, and command deps that lie inside
// another stage's outs (DVC style). Checks cycles and overlapping outputs.
import { UserError, UserErrors } from '../errors.js';
import type { Pipeline, StageSpec } from '../pipeline/load.js';

export interface Dag {
  /** Stage names in a topological order (dependencies first; ties in file order). */
  order: string[];
  /** stage → stages it depends on. */
  upstream: Map<string, Set<string>>;
  /** stage → stages depending on it. */
  downstream: Map<string, Set<string>>;
  /** command-stage dep path → the stage and output producing it. */
  producedDeps: Map<string, Map<string, { stage: string; output: string; sub: string }>>;
}

function normalise(p: string): string {
  return p.replace(/^\.\//, '').replace(/\/+$/, '');
}

export function buildDag(pipeline: Pipeline): Dag {
  const { stages, source } = pipeline;
  const errors: UserError[] = [];

  // Workspace outputs of command stages, to find producers of deps and overlapping outs.
  // Indexed by path; containment is checked through each path's ancestors (no pairwise scan,
  // so 10,000 stages stay cheap).
  const outOwners = new Map<string, { path: string; stage: string; output: string }>();
  for (const st of stages.values()) {
    if (st.kind !== 'command') continue;
    for (const [output, p] of Object.entries(st.outs)) {
      const path = normalise(p);
      const prev = outOwners.get(path);
      if (prev && prev.stage !== st.name) {
        errors.push(new UserError(`stages '${prev.stage}' and '${st.name}' both write '${path}'; each output must have one producer`, source.locate(st.yamlPath, 'key')));
      }
      outOwners.set(path, { path, stage: st.name, output });
    }
  }
  const ownerOf = (path: string) => {
    for (let i = path.length; i > 0; i = path.lastIndexOf('/', i - 1)) {
      const o = outOwners.get(path.slice(0, i));
      if (o) return o;
    }
    return undefined;
  };
  for (const o of outOwners.values()) {
    const cut = o.path.lastIndexOf('/');
    const parent = cut > 0 ? ownerOf(o.path.slice(0, cut)) : undefined;
    if (parent && parent.stage !== o.stage) {
      errors.push(new UserError(`stages '${parent.stage}' and '${o.stage}' both write '${o.path}' ('${parent.path}' contains it); each output must have one producer`, source.locate(stages.get(o.stage)!.yamlPath, 'key')));
    }
  }

  const upstream = new Map<string, Set<string>>();
  const downstream = new Map<string, Set<string>>();
  const producedDeps = new Map<string, Map<string, { stage: string; output: string; sub: string }>>();
  for (const name of stages.keys()) {
    upstream.set(name, new Set());
    downstream.set(name, new Set());
  }
  const addEdge = (from: string, to: string) => {
    upstream.get(to)!.add(from);
    downstream.get(from)!.add(to);
  };
  for (const st of stages.values()) {
    for (const ref of st.refs) addEdge(ref.stage, st.name);
    for (const n of st.needs) {
      if (n === st.name) errors.push(new UserError(`stage '${st.name}' needs itself`, source.locate([...st.yamlPath, 'needs'])));
      else addEdge(n, st.name);
    }
    const produced = new Map<string, { stage: string; output: string; sub: string }>();
    for (const dep of st.deps.map(normalise)) {
      const owner = ownerOf(dep);
      if (owner) {
        if (owner.stage === st.name) {
          errors.push(new UserError(`stage '${st.name}' lists '${dep}' both as a dep and as an output`, source.locate([...st.yamlPath, 'deps'])));
          continue;
        }
        produced.set(dep, { stage: owner.stage, output: owner.output, sub: dep.slice(owner.path.length).replace(/^\//, '') });
        addEdge(owner.stage, st.name);
      }
    }
    producedDeps.set(st.name, produced);
  }
  if (errors.length) throw new UserErrors(errors);

  // Kahn's algorithm in file order; whatever remains lies on or after a cycle.
  const names = [...stages.keys()];
  const indeg = new Map(names.map((n) => [n, upstream.get(n)!.size]));
  const ready = names.filter((n) => indeg.get(n) === 0);
  const order: string[] = [];
  for (let i = 0; i < ready.length; i++) {
    const n = ready[i];
    order.push(n);
    for (const d of downstream.get(n)!) {
      const k = indeg.get(d)! - 1;
      indeg.set(d, k);
      if (k === 0) ready.push(d);
    }
  }
  if (order.length !== names.length) {
    const cycle = findCycle(names.filter((n) => indeg.get(n)! > 0), upstream);
    const first = stages.get(cycle[0]) as StageSpec;
    throw new UserError(`dependency cycle: ${cycle.join(' → ')}`, source.locate(first.yamlPath, 'key'), 'a stage cannot depend, directly or through others, on its own outputs');
  }
  return { order, upstream, downstream, producedDeps };
}

function findCycle(candidates: string[], upstream: Map<string, Set<string>>): string[] {
  const inSet = new Set(candidates);
  // Follow downstream edges (reverse of upstream) from a candidate until a node repeats.
  const downstreamOf = (n: string) => [...inSet].filter((m) => upstream.get(m)!.has(n));
  let cur = candidates[0];
  const path: string[] = [];
  const seenAt = new Map<string, number>();
  while (!seenAt.has(cur)) {
    seenAt.set(cur, path.length);
    path.push(cur);
    const next = downstreamOf(cur)[0];
    if (next === undefined) break;
    cur = next;
  }
  const start = seenAt.get(cur) ?? 0;
  const cycle = path.slice(start);
  return [...cycle, cycle[0]];
}

/** Every stage reachable from `names` along `edges` (inclusive). */
function reach(edges: Map<string, Set<string>>, names: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const stack = [...names];
  while (stack.length) {
    const n = stack.pop()!;
    if (out.has(n)) continue;
    out.add(n);
    for (const d of edges.get(n) ?? []) stack.push(d);
  }
  return out;
}

/** Every stage downstream of `names` (inclusive). */
export function downstreamClosure(dag: Dag, names: Iterable<string>): Set<string> {
  return reach(dag.downstream, names);
}

/** Every stage `names` depend on, directly or not (inclusive): what `run TARGET` must bring up to date. */
export function upstreamClosure(dag: Dag, names: Iterable<string>): Set<string> {
  return reach(dag.upstream, names);
}

/** The DAG of `keep` alone (closed upstream), in the same order. */
export function subDag(dag: Dag, keep: ReadonlySet<string>): Dag {
  const restrict = (m: Map<string, Set<string>>) => new Map([...m].filter(([n]) => keep.has(n)).map(([n, s]) => [n, new Set([...s].filter((x) => keep.has(x)))]));
  return { order: dag.order.filter((n) => keep.has(n)), upstream: restrict(dag.upstream), downstream: restrict(dag.downstream), producedDeps: dag.producedDeps };
}
