// Stage process groups: how a stage's processes are started so that none outlives the engine,
// how they are stopped, and which ones are running.
//
// Every stage process leads its own process group (spawned `detached`), so a signal to -pid
// reaches its children and grandchildren too (a shell's `sleep`, a trainer's data loaders). The
// shell that starts the group first forks a *guard* into it: a command stage's own shell does so
// before the command, a worker is started by /bin/sh doing so before `exec node`.
// The guard blocks reading fd 3, a socket whose other end only the engine holds (libuv opens it
// close-on-exec, so no other process inherits it). When the engine dies, however it dies
// (SIGKILL, a crash, SIGHUP), the kernel closes that end, the read returns, and the guard SIGKILLs
// its whole group, itself included. The guard ignores SIGINT/SIGTERM/SIGHUP, so a cancellation
// (SIGTERM to the group) cannot remove it before the grace period's SIGKILL. It is not a job of
// the command's shell (disowned, or double-forked), so a command's own `wait` does not wait for
// it. The leader keeps its pid (bash execs a command's last program, sh execs node), so the
// engine still sees the stage's exact exit code or signal.
//
// The engine also keeps the list of groups it started (`runningStageGroups`): the run records
// them in the workspace lock (a later run that takes over a dead run's lock kills what is left),
// a second Ctrl-C SIGKILLs them all, and so does the engine's own exit.
//
// Public surface:
//   spawnStageProcess(stage, what, opts): ChildProcess   a shell command or a program; stdio [ignore, pipe, pipe, guard(, ipc)]
//   signalGroup(pid, signal), terminateGroup(child, graceMs)
//   runningStageGroups(), onStageGroupStart(listener), killRunningStageGroups()
//   processStartTime(pid), liveGroupMembers(pgid)              identity checks (Linux /proc)
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** A running stage's process group: its leader's pid is the group id. */
export interface StageGroup {
  pgid: number;
  stage: string;
  /** The leader's start time (clock ticks since boot, from /proc), to tell it from a later process with the same pid; null where unknown. */
  start: string | null;
}

// The guard. fd 4, the IPC channel of a worker, is closed in it so it never holds that open.
const GUARD = '(trap "" INT TERM HUP; exec 4>&- 0</dev/null; read -r _ <&3; kill -9 0) >/dev/null 2>&1';
// Before a command, on the command's own line (its line numbers stay its own): bash disowns the
// guard, another shell double-forks it (its subshell exits at once), so it is not a job of the
// command's shell. Then fd 3 is closed in the leader.
const BASH_PREFIX = `${GUARD} & disown; exec 3<&-; `;
const POSIX_PREFIX = `( ${GUARD} & ); exec 3<&-; `;
// Before exec'ing a program: no job table survives the exec, so a plain background job will do.
const EXEC_SCRIPT = `${GUARD} & exec 3<&-; exec "$@"`;

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

/** What a stage process runs: `shell -c command`, or a program with its arguments. */
export type StageProgram = { shell: string; command: string } | { program: string; args: string[] };

/**
 * Spawns a stage process: leader of a new process group, with a guard in the group that kills it
 * when the engine dies. stdio: 0 ignored, 1 and 2 pipes, 3 the guard's socket (leave it alone), 4
 * the IPC channel when `ipc`. The group is tracked until its leader exits; then whatever the stage
 * left in its group (strays, the guard) is SIGKILLed.
 */
export function spawnStageProcess(stage: string, what: StageProgram, opts: StageSpawnOptions): ChildProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => killRunningStageGroups());
  }
  const [file, args] =
    'shell' in what
      ? [what.shell, ['-c', (basename(what.shell) === 'bash' ? BASH_PREFIX : POSIX_PREFIX) + what.command]]
      : ['/bin/sh', ['-c', EXEC_SCRIPT, 'fisherflow-stage', what.program, ...what.args]];
  const child = spawn(file, args, {
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
    // Node's 'close' waits for every stdio stream, fd 3 included: closing the engine's end now
    // spares each stage the wait for its guard to be scheduled and die (tens of ms under load).
    (child.stdio[3] as NodeJS.ReadableStream & { destroy(): void } | null)?.destroy();
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
