// Stage process groups: how a stage's processes are started so that none outlives the engine,
// how they are stopped, and which ones are running.
//
// Every stage process leads its own process group (spawned `detached`), so a signal to -pid
// reaches its children and grandchildren too (a shell's `sleep`, a trainer's data loaders). The
// group is started by /bin/sh, which first forks a *guard* into it and then execs the stage's own
// program, which so keeps the leader's pid: the engine still sees the stage's exact exit code or
// signal. The guard blocks reading fd 3, a socket whose other end only the engine holds (libuv
// opens it close-on-exec, so no other process inherits it). When the engine dies, however it dies
// (SIGKILL, a crash, SIGHUP), the kernel closes that end, the read returns, and the guard SIGKILLs
// its whole group, itself included. The guard ignores SIGINT/SIGTERM/SIGHUP, so a cancellation
// (SIGTERM to the group) cannot remove it before the grace period's SIGKILL. It is double-forked
// (its subshell exits at once), so it is nobody's child: a stage's own `wait` does not see it.
//
// The engine also keeps the list of groups it started (`runningStageGroups`): the run records
// them in the workspace lock (a later run that takes over a dead run's lock kills what is left),
// a second Ctrl-C SIGKILLs them all, and so does the engine's own exit.
//
// Public surface:
//   spawnStageProcess(stage, file, args, opts): ChildProcess   stdio [ignore, pipe, pipe, guard(, ipc)]
//   signalGroup(pid, signal), terminateGroup(child, graceMs)
//   runningStageGroups(), onStageGroupStart(listener), killRunningStageGroups()
//   processStartTime(pid), liveGroupMembers(pgid)              identity checks (Linux /proc)
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** A running stage's process group: its leader's pid is the group id. */
export interface StageGroup {
  pgid: number;
  stage: string;
  /** The leader's start time (clock ticks since boot, from /proc), to tell it from a later process with the same pid; null where unknown. */
  start: string | null;
}

// Forks the guard, closes fd 3 in the leader, and execs the stage's own program ("$@"), saying so
// in the log when there is no such program. fd 4, the IPC channel of a worker, is closed in the
// guard so the guard never holds it open.
const GUARD_SCRIPT =
  '(trap "" INT TERM HUP; exec 4>&- 0</dev/null; read -r _ <&3; kill -9 0) >/dev/null 2>&1 & exec 3<&-; ' +
  'command -v "$1" >/dev/null || { echo "fisherflow: could not start $1: command not found" >&2; exit 127; }; exec "$@"';

const running = new Map<number, StageGroup>();
const startListeners = new Set<(g: StageGroup) => void>();
let exitHookInstalled = false;

export interface StageSpawnOptions {
  cwd?: string;
  env: NodeJS.ProcessEnv;
  /** Add an IPC channel (fd 4) for a stage worker. */
  ipc?: boolean;
  serialization?: 'json' | 'advanced';
}

/**
 * Spawns `file args` as a stage process: leader of a new process group, with a guard in the group
 * that kills it when the engine dies. stdio: 0 ignored, 1 and 2 pipes, 3 the guard's socket (leave
 * it alone), 4 the IPC channel when `ipc`. The group is tracked until its leader exits; then
 * whatever the stage left in its group (strays, the guard) is SIGKILLed.
 */
export function spawnStageProcess(stage: string, file: string, args: string[], opts: StageSpawnOptions): ChildProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => killRunningStageGroups());
  }
  const child = spawn('/bin/sh', ['-c', GUARD_SCRIPT, 'fisherflow-stage', file, ...args], {
    cwd: opts.cwd,
    env: opts.env,
    stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe', 'pipe'],
    detached: true,
    serialization: opts.serialization,
  });
  const pid = child.pid;
  if (pid === undefined) return child; // spawn failed: 'error' follows
  const group: StageGroup = { pgid: pid, stage, start: processStartTime(pid) };
  running.set(pid, group);
  for (const l of startListeners) l(group);
  child.on('exit', () => {
    // Strays still in the group would keep the output pipes open (and the stage "running").
    signalGroup(pid, 'SIGKILL');
    running.delete(pid);
  });
  return child;
}

/** The process groups of stages this engine started whose leader has not exited. */
export function runningStageGroups(): StageGroup[] {
  return [...running.values()];
}

/** Hear about each stage group as it starts; returns a function that stops listening. */
export function onStageGroupStart(listener: (g: StageGroup) => void): () => void {
  startListeners.add(listener);
  return () => startListeners.delete(listener);
}

/** SIGKILL every running stage group (a second Ctrl-C; the engine's exit). Returns how many. */
export function killRunningStageGroups(): number {
  let n = 0;
  for (const g of running.values()) if (signalGroup(g.pgid, 'SIGKILL')) n++;
  return n;
}

/** Sends `signal` to the process group led by `pid`; false if it is already gone. */
export function signalGroup(pid: number | undefined, signal: NodeJS.Signals): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGTERM to the group, then SIGKILL after `graceMs` if its leader has not exited. Returns a
 * function that cancels the pending SIGKILL timer (call it once the leader has exited).
 */
export function terminateGroup(child: ChildProcess, graceMs: number): () => void {
  signalGroup(child.pid, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), graceMs);
  timer.unref();
  return () => clearTimeout(timer);
}

/** Fields of /proc/PID/stat after the command name (state is [0]); null without /proc or the process. */
function procStat(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** When the process started (clock ticks since boot); null where /proc is not available. */
export function processStartTime(pid: number): string | null {
  return procStat(pid)?.[19] ?? null;
}

/**
 * Pids of the live (not zombie) processes in group `pgid`. Without /proc, [pgid] while the
 * group can be signalled, else [].
 */
export function liveGroupMembers(pgid: number): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch {
      return [];
    }
  }
  const members: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const f = procStat(pid);
    // After the state: ppid, pgrp.
    if (f && f[0] !== 'Z' && Number(f[2]) === pgid) members.push(pid);
  }
  return members;
}
