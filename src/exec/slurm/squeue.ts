// The Slurm commands the executor runs: `squeue` for the states of many jobs in one call,
// `sbatch` and `scancel`. Never `sacct`: clusters without accounting storage are common, and a
// finished job's result is read from the shared filesystem instead.
//
// Public surface:
//   squeueArgs(ids): string[]            `squeue -h -t all -j IDS -O JobID:|,State:|,Reason:|,NodeList:|,exit_code:`
//   parseSqueue(stdout): Map<id, QueueEntry>
//   querySqueue(ids): Promise<Map<id, QueueEntry>>   jobs squeue no longer knows are absent; rejects on other errors
//   runSlurmCommand(cmd, args, stdin?): Promise<{ code, stdout, stderr }>
//   slurmEnv(env): the environment for sbatch: without SLURM_* (except SLURM_CONF) and CUDA_VISIBLE_DEVICES
import { execFile } from 'node:child_process';
import type { QueueEntry } from './job-states.js';

const FIELDS = 'JobID:|,State:|,Reason:|,NodeList:|,exit_code:';

export function squeueArgs(ids: readonly string[]): string[] {
  return ['-h', '-t', 'all', '-j', ids.join(','), '-O', FIELDS];
}

export function parseSqueue(stdout: string): Map<string, QueueEntry> {
  const out = new Map<string, QueueEntry>();
  for (const line of stdout.split('\n')) {
    const f = line.trim().split('|');
    if (f.length < 5 || !/^\d/.test(f[0]!)) continue;
    const [id, state, reason, node, exitRaw] = f.map((x) => x.trim());
    // exit_code is the raw wait status: exit code in the high byte, signal in the low bits.
    const raw = Number(exitRaw);
    const exit = exitRaw !== '' && Number.isInteger(raw) ? { code: (raw >> 8) & 0xff, signal: raw & 0x7f } : null;
    out.set(id!, { id: id!, state: state!, reason: reason!, node: node === '(null)' ? '' : node!, exit });
  }
  return out;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a Slurm client command; never rejects (a missing command is code 127). */
export function runSlurmCommand(cmd: string, args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: slurmEnv(process.env), timeout: opts.timeoutMs ?? 120_000, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : (err as NodeJS.ErrnoException).code === 'ENOENT' ? 127 : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && !stderr ? (err as Error).message : '') });
    });
    if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
  });
}

/**
 * The engine's environment minus what would mislead a job: SLURM_* variables of an allocation
 * the engine itself runs in (sbatch reads some as defaults) and the engine's own GPU selection.
 * SBATCH_* variables are the user's defaults for sbatch and stay.
 */
let envCache: { path: string | undefined; env: NodeJS.ProcessEnv } | undefined;

export function slurmEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  // Copying process.env costs ~2 ms (each read goes through a getter); 500 submissions add up.
  if (env === process.env && envCache && envCache.path === env.PATH) return envCache.env;
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('SLURM_') && k !== 'SLURM_CONF') continue;
    if (k === 'CUDA_VISIBLE_DEVICES' || k === 'FISHERFLOW_DEVICE') continue;
    out[k] = v;
  }
  if (env === process.env) envCache = { path: env.PATH, env: out };
  return out;
}

/** The states of these jobs; a job squeue no longer knows (purged, or never existed) is absent. */
export async function querySqueue(ids: readonly string[]): Promise<Map<string, QueueEntry>> {
  if (ids.length === 0) return new Map();
  const r = await runSlurmCommand('squeue', squeueArgs(ids), { timeoutMs: 60_000 });
  if (r.code !== 0) {
    // With one id, a purged job is an error; with several, squeue just leaves it out.
    if (/Invalid job id/i.test(r.stderr)) return new Map();
    throw new Error(`squeue failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return parseSqueue(r.stdout);
}
