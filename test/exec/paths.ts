// Locating test fixtures next to the running test file, under tsx (.ts) and from dist (.js).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export function fixtureModule(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}${EXT}`, import.meta.url));
}

/** True while the process exists and is not a zombie (an init that does not reap would keep those). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}
