// Run the real `fisherflow` CLI in a child process, as a user would.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './repo-root.js';

export const REPO_ROOT = repoRoot();

export const BIN = join(REPO_ROOT, 'bin', 'fisherflow.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; uid?: number; gid?: number; timeoutMs?: number }): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...process.env, FISHERFLOW_GPUS: '', ...opts.env }, encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000, uid: opts.uid, gid: opts.gid });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Start the CLI without waiting (for signal tests). */
export function cliAsync(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }) {
  return spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...process.env, FISHERFLOW_GPUS: '', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `run --json` and return stage name → status. */
export function runJson(cwd: string, extra: string[] = [], env?: NodeJS.ProcessEnv): Record<string, string> {
  const r = cli(['run', ...extra, '--json'], { cwd, env });
  if (r.code !== 0) throw new Error(`run failed (${r.code}): ${r.stderr}\n${r.stdout}`);
  const parsed = JSON.parse(r.stdout) as { stages: Array<{ name: string; status: string }> };
  return Object.fromEntries(parsed.stages.map((s) => [s.name, s.status]));
}

export function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ff-ws-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

export function ran(statuses: Record<string, string>): string[] {
  return Object.entries(statuses).filter(([, s]) => s === 'ran').map(([n]) => n).sort();
}
