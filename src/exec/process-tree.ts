// Stopping a stage's whole process tree. Stage processes are spawned `detached`, so each leads
// its own process group and a signal to -pid reaches its children and grandchildren too (a
// shell's `sleep`, a Python trainer's data loader workers).
import type { ChildProcess } from 'node:child_process';

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
