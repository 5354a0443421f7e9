// A real full disk for tests: a tiny tmpfs mounted on a temporary folder (needs root, which CI
// has; elsewhere the tests that use it are skipped and say why). Unmounted after the file's tests.
import { after } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const mounted: string[] = [];
after(() => {
  for (const d of mounted) {
    spawnSync('umount', ['-l', d]);
    rmSync(d, { recursive: true, force: true });
  }
});

/** Why small disks cannot be made here, or null if they can. */
export const smallDiskUnavailable: string | null = (() => {
  if (process.getuid?.() !== 0) return 'mounting a small tmpfs needs root (CI runs as root)';
  return null;
})();

/** A folder on a fresh tmpfs of `kib` KiB. Throws if mounting fails as root. */
export function smallDisk(kib: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'ff-small-disk-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot mount a tmpfs on ${dir}: ${r.stderr}`);
  mounted.push(dir);
  return dir;
}

/** Fills the rest of the file system holding `dir` with `dir/filler`. */
export function fill(dir: string): void {
  spawnSync('sh', ['-c', `dd if=/dev/zero of="${dir}/filler" bs=4k 2>/dev/null; true`]);
}
