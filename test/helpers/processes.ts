// Finding the processes a test started, by their working folder: a stage's processes (its
// shell, a worker, their children) all run in the pipeline's folder, whatever they are named.
import { after } from 'node:test';
import { readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const scratch: string[] = [];
after(() => {
  for (const d of scratch) {
    killProcessesIn(d);
    rmSync(d, { recursive: true, force: true });
  }
});

/** Removes `dir` after the test file, first killing whatever still runs in it (a failed test's stage). */
export function removeAfterTests(dir: string): string {
  scratch.push(dir);
  return dir;
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true; // gone
  }
}

/** Live processes whose working folder is `dir` or inside it (Linux /proc). */
export function processesIn(dir: string): Array<{ pid: number; cmd: string }> {
  const found: Array<{ pid: number; cmd: string }> = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      continue;
    }
    if ((cwd === dir || cwd.startsWith(dir + '/')) && !isZombie(pid)) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      } catch {
        /* gone meanwhile */
      }
      found.push({ pid, cmd });
    }
  }
  return found;
}

/** SIGKILL every process in `dir` (cleanup, so a failing test leaves nothing running). */
export function killProcessesIn(dir: string): void {
  for (const p of processesIn(dir)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Polls `cond` every 50 ms until it holds or `ms` pass; returns its last value. */
export async function waitFor<T>(cond: () => T, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let v = cond();
  while (!v && Date.now() < end) {
    await sleep(50);
    v = cond();
  }
  return v;
}
