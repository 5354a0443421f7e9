// Time limits of stages (`resources: { time }`) and durations of settings (`poll_max: 10s`).
//
// Public surface:
//   parseDuration(text, what): number        "90s" | "30min" | "2h" | "1.5d" → seconds
//   parseTimeLimit(text, what): number       a duration, or Slurm's own forms: "MM", "MM:SS",
//                                            "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS" → seconds
//   formatSlurmTime(seconds): string         → "D-HH:MM:SS" (what sbatch --time takes)
// Errors are UserErrors without a location; callers add the file and line.
import { UserError } from '../errors.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, sec: 1, m: 60, min: 60, h: 3600, d: 86400 };

/** A number with a unit: s, sec, m, min, h or d. */
export function parseDuration(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/.exec(String(text));
  const unit = m ? UNIT_SECONDS[m[2]!] : undefined;
  if (!m || unit === undefined) throw new UserError(`${what}: expected a duration such as "90s", "30min", "2h" or "1d", got ${JSON.stringify(text)}`);
  const seconds = Number(m[1]) * unit;
  if (!(seconds > 0)) throw new UserError(`${what}: must be greater than zero, got ${JSON.stringify(text)}`);
  return seconds;
}

/** A duration ("2h") or a time in Slurm's notation ("1-12:00:00", "90" = minutes). */
export function parseTimeLimit(text: string, what: string): number {
  const s = String(text).trim();
  const slurm = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(s);
  if (!slurm) {
    try {
      return parseDuration(s, what);
    } catch {
      throw new UserError(`${what}: expected a time limit such as "2h", "90min", "1d" or Slurm's "HH:MM:SS", "D-HH:MM:SS", got ${JSON.stringify(text)}`);
    }
  }
  const [, d, a, b, c] = slurm;
  const n = (x: string | undefined) => (x === undefined ? 0 : Number(x));
  let seconds: number;
  if (d !== undefined) seconds = n(d) * 86400 + n(a) * 3600 + n(b) * 60 + n(c); // D-HH[:MM[:SS]]
  else if (c !== undefined) seconds = n(a) * 3600 + n(b) * 60 + n(c); // HH:MM:SS
  else seconds = n(a) * 60 + n(b); // MM or MM:SS
  if (!(seconds > 0)) throw new UserError(`${what}: must be greater than zero, got ${JSON.stringify(text)}`);
  return seconds;
}

/** Seconds → "D-HH:MM:SS" (rounded up to a whole second). */
export function formatSlurmTime(seconds: number): string {
  const t = Math.ceil(seconds);
  const two = (x: number) => String(x).padStart(2, '0');
  return `${Math.floor(t / 86400)}-${two(Math.floor((t % 86400) / 3600))}:${two(Math.floor((t % 3600) / 60))}:${two(t % 60)}`;
}
