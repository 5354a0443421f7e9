// One `fisherflow run` at a time per workspace: a lock file naming its owner. A lock whose
// owner is a dead process on this host is reported and taken over.
import { closeSync, openSync, readFileSync, rmSync, writeSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { UserError } from '../errors.js';

interface Owner {
  pid: number;
  host: string;
  started: string;
  command: string;
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

export class WorkspaceLock {
  private held = false;
  constructor(private readonly path: string) {}

  /** Take the lock; `onStale` hears about a dead owner's lock being taken over. */
  acquire(command: string, onStale: (msg: string) => void = () => {}): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const me: Owner = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(this.path, 'wx');
        writeSync(fd, JSON.stringify(me));
        closeSync(fd);
        this.held = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let owner: Owner | undefined;
      try {
        owner = JSON.parse(readFileSync(this.path, 'utf8')) as Owner;
      } catch {
        owner = undefined; // half-written by a process that died while writing it
      }
      if (owner && owner.host === me.host && alive(owner.pid) && owner.pid !== process.pid) {
        throw new UserError(`another fisherflow run (pid ${owner.pid} on ${owner.host}, started ${owner.started}: ${owner.command}) holds the workspace lock ${this.path}; wait for it to finish`);
      }
      if (owner && owner.host !== me.host) {
        throw new UserError(`the workspace lock ${this.path} is held by pid ${owner.pid} on another host (${owner.host}); if that run is gone, delete the lock file`);
      }
      onStale(`taking over a stale workspace lock left by ${owner ? `pid ${owner.pid} (no longer running, started ${owner.started})` : 'a process that died while writing it'}`);
      rmSync(this.path, { force: true });
    }
    throw new UserError(`could not take the workspace lock ${this.path}`);
  }

  release(): void {
    if (!this.held) return;
    try {
      const owner = JSON.parse(readFileSync(this.path, 'utf8')) as Owner;
      if (owner.pid === process.pid) rmSync(this.path, { force: true });
    } catch {
      /* already gone */
    }
    this.held = false;
  }
}
