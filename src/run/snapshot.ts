// What a report stage learns about its pipeline.
import { execFileSync } from 'node:child_process';
import { relative } from 'node:path';
import type { PipelineSnapshot } from '../stage/api.js';
import { packageVersion } from '../package-root.js';
import type { StagePlan } from '../plan/plan.js';
import type { Workspace } from '../plan/workspace.js';

export { packageVersion };

export function pipelineSnapshot(ws: Workspace, plans: Map<string, StagePlan>): PipelineSnapshot {
  return {
    file: relative(ws.root, ws.pipeline.file),
    params: ws.pipeline.params,
    stages: ws.dag.order.map((n) => {
      const s = ws.pipeline.stages.get(n)!;
      const p = plans.get(n);
      return { name: n, type: s.type, needs: [...ws.dag.upstream.get(n)!], key: p?.key ?? null, status: p?.status, outputs: s.outs };
    }),
    versions: { fisherflow: packageVersion(), node: process.version, ...projectCommit(ws.root) },
  };
}

/** The project's git commit (HEAD of the repository holding the workspace), when there is one. */
function projectCommit(root: string): { 'project commit'?: string } {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
    return /^[0-9a-f]{40,64}$/.test(head) ? { 'project commit': head } : {};
  } catch {
    return {};
  }
}
