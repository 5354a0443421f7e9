// One `fisherflow run` (or `gc`) at a time per workspace: a lock file naming its owner, and beside
// it the process groups of the stages the owner started.
//
//   .fisherflow/run.lock          {"pid","host","started","command","start"}; created with O_EXCL
//   .fisherflow/run.lock.groups   one JSON line per stage process group started: {"pgid","start","stage"}
//
// A lock whose owner is a dead process on this host is reported and taken over; before anything
// else, the takeover SIGKILLs every recorded group that is still running (its guard should have
// done so when the owner died; this covers a guard that was itself killed), so no process of the
// dead run writes into the workspace or the store while the new owner works. A recorded leader
// that is alive is killed only if its start time matches the record (a pid reused by an unrelated
// process is left alone). The lock is released on exit too (a second Ctrl-C exits at once).
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { UserError, WriteError } from '../errors.js';
import { liveGroupMembers, processStartTime, signalGroup, type StageGroup } from '../exec/process-tree.js';

interface Owner {
  pid: number;
  host: string;
  started: string;
  command: string;
  /** The owner's process start time (see processStartTime); absent in locks of older versions. */
  start?: string | null;
}

/** Does process `pid` (on this host) still run? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The owner process still runs (and is the same process, where its start time was recorded). */
function ownerAlive(owner: Owner): boolean {
  if (!alive(owner.pid)) return false;
  const now = processStartTime(owner.pid);
  return !owner.start || !now || now === owner.start;
}

// Locks this process holds, released by one exit hook (gc may hold one per project).
const heldLocks = new Set<WorkspaceLock>();
let exitHookInstalled = false;

export class WorkspaceLock {
  private held = false;
  private readonly groupsFile: string;
  /** Open while the lock is held: one write per stage started, no open/close. */
  private groupsFd: number | null = null;

  constructor(private readonly path: string) {
    this.groupsFile = `${path}.groups`;
  }

  /**
   * Take the lock; `onStale` hears about a dead owner's lock being taken over (and the process
   * groups it left running, which are killed first). Throws UserError if a live run holds it,
   * WriteError if the lock file cannot be written.
   */
  acquire(command: string, onStale: (msg: string) => void = () => {}): void {
    try {
      mkdirSync(dirname(this.path), { recursive: true });
    } catch (e) {
      throw new WriteError(dirname(this.path), e, 'the workspace lock folder');
    }
    const me: Owner = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command, start: processStartTime(process.pid) };
    for (let attempt = 0; attempt < 3; attempt++) {
      let fd: number | undefined;
      try {
        fd = openSync(this.path, 'wx');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new WriteError(this.path, e, 'the workspace lock');
      }
      if (fd !== undefined) {
        try {
          writeSync(fd, JSON.stringify(me));
        } catch (e) {
          // Disk full: leave no empty lock behind for the next run to puzzle over.
          closeSync(fd);
          rmSync(this.path, { force: true });
          throw new WriteError(this.path, e, 'the workspace lock');
        }
        closeSync(fd);
        try {
          this.groupsFd = openSync(this.groupsFile, 'w');
        } catch {
          this.groupsFd = null; // groups go unrecorded; their guards still kill them with the engine
        }
        this.held = true;
        heldLocks.add(this);
        if (!exitHookInstalled) {
          exitHookInstalled = true;
          process.on('exit', () => {
            for (const l of heldLocks) l.release();
          });
        }
        return;
      }
      let owner: Owner | undefined;
      try {
        owner = JSON.parse(readFileSync(this.path, 'utf8')) as Owner;
      } catch {
        owner = undefined; // half-written by a process that died while writing it
      }
      if (owner && owner.host === me.host && owner.pid !== process.pid && ownerAlive(owner)) {
        throw new UserError(`another fisherflow run (pid ${owner.pid} on ${owner.host}, started ${owner.started}: ${owner.command}) holds the workspace lock ${this.path}; wait for it to finish`);
      }
      if (owner && owner.host !== me.host) {
        throw new UserError(`the workspace lock ${this.path} is held by pid ${owner.pid} on another host (${owner.host}); if that run is gone, delete the lock file`);
      }
      const killed = this.killLeftovers();
      const what = killed.length ? `; killed ${killed.length} process group${killed.length > 1 ? 's' : ''} it left running (stage ${[...new Set(killed)].join(', ')})` : '';
      onStale(`taking over a stale workspace lock left by ${owner ? `pid ${owner.pid} (no longer running, started ${owner.started})` : 'a process that died while writing it'}${what}`);
      rmSync(this.groupsFile, { force: true });
      rmSync(this.path, { force: true });
    }
    throw new UserError(`could not take the workspace lock ${this.path}`);
  }

  /** Note a stage process group the holder started (best effort: the group's guard is the first line of defence). */
  recordGroup(group: Pick<StageGroup, 'pgid' | 'stage'> & { start?: string | null }): void {
    if (!this.held || this.groupsFd === null) return;
    const line = JSON.stringify({ pgid: group.pgid, start: group.start === undefined ? processStartTime(group.pgid) : group.start, stage: group.stage });
    try {
      writeSync(this.groupsFd, line + '\n');
    } catch {
      /* disk full: the guard still kills the group with its engine */
    }
  }

  release(): void {
    if (!this.held) return;
    heldLocks.delete(this);
    if (this.groupsFd !== null) {
      try {
        closeSync(this.groupsFd);
      } catch {
        /* already closed */
      }
      this.groupsFd = null;
    }
    try {
      const owner = JSON.parse(readFileSync(this.path, 'utf8')) as Owner;
      if (owner.pid === process.pid) {
        rmSync(this.groupsFile, { force: true });
        rmSync(this.path, { force: true });
      }
    } catch {
      /* already gone */
    }
    this.held = false;
  }

  /**
   * SIGKILLs the recorded groups of a dead owner that still have live processes, and waits (up to
   * 5 s) until they are gone. Returns the stage of each group killed.
   */
  private killLeftovers(): string[] {
    let lines: string[];
    try {
      lines = readFileSync(this.groupsFile, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
    const killed: Array<{ pgid: number; stage: string }> = [];
    for (const line of lines) {
      let g: { pgid: number; start: string | null; stage: string };
      try {
        g = JSON.parse(line);
      } catch {
        continue; // a line cut short by the owner's death
      }
      if (!Number.isInteger(g.pgid) || g.pgid <= 1) continue;
      const members = liveGroupMembers(g.pgid);
      if (members.length === 0) continue;
      // The leader alive under another start time: the pid now leads an unrelated group.
      if (members.includes(g.pgid) && g.start && processStartTime(g.pgid) !== g.start) continue;
      if (signalGroup(g.pgid, 'SIGKILL')) killed.push(g);
    }
    const deadline = Date.now() + 5000;
    while (killed.some((g) => liveGroupMembers(g.pgid).length > 0) && Date.now() < deadline) waitBriefly();
    return killed.map((g) => g.stage);
  }
}

/** Blocks for ~20 ms (takeover is synchronous and rare; SIGKILL takes effect within that). */
function waitBriefly(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
}
