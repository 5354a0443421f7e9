// Which stale stages a remote can serve: a stage whose key the remote holds is fetched, not run;
// and since a fetched result has known output hashes, the stages downstream of it get keys too and
// may be on the remote as well. The walk is the plan's, with the remote's records standing in for
// results the local store lacks; lookups of independent stages run in parallel.
import type { RunRecord } from '../cache/store.js';
import { computeKey, type StagePlan } from './plan.js';
import type { StaleAction } from './reasons.js';
import type { Workspace } from './workspace.js';

/** For every stale stage: fetched from `remote`, or run. */
export async function remoteAvailability(ws: Workspace, plans: Map<string, StagePlan>, remote: string, lookup: (key: string, stage: string) => Promise<RunRecord | undefined>): Promise<Map<string, StaleAction>> {
  const results = new Map<string, Promise<RunRecord | undefined>>();
  for (const name of ws.dag.order) {
    const plan = plans.get(name)!;
    if (plan.status === 'up-to-date') {
      results.set(name, Promise.resolve(plan.record));
      continue;
    }
    const upstream = [...ws.dag.upstream.get(name)!];
    results.set(
      name,
      (async () => {
        const ups = await Promise.all(upstream.map((u) => results.get(u)!));
        // An upstream stage that will run makes this one's key unknowable until then.
        if (ups.some((r) => !r)) return undefined;
        const byName = new Map(upstream.map((u, i) => [u, ups[i]!]));
        const key = plan.key ?? (() => {
          const km = computeKey(ws, ws.pipeline.stages.get(name)!, (s) => byName.get(s));
          return 'waitingFor' in km ? undefined : km.key;
        })();
        return key === undefined ? undefined : lookup(key, name);
      })(),
    );
  }
  const out = new Map<string, StaleAction>();
  for (const [name, p] of results) {
    if (plans.get(name)!.status === 'up-to-date') continue;
    out.set(name, (await p) ? { kind: 'fetch', remote } : { kind: 'run' });
  }
  return out;
}
