// Fake `sbatch`, `squeue` and `scancel` for unit tests of the Slurm executor's state machine: bash
// scripts on PATH that keep the queue in files, so a test can put any job in any state (every
// Slurm state, purged jobs, failing squeue calls) and write the job's result file itself.
// Real Slurm is tested in slurm-cluster.test.ts.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobResultRecord, StageJob } from '../../../src/exec/executor.js';

const SBATCH = `#!/bin/bash
D="$FAKE_SLURM"
exec 9>"$D/lock"; flock 9
if [ -f "$D/sbatch.refuse" ]; then cat "$D/sbatch.refuse" >&2; exit 1; fi
n=$(( $(cat "$D/next" 2>/dev/null || echo 100) + 1 ))
cat > "$D/$n.sh"
printf '%s\\n' "$@" > "$D/$n.args"
echo "$n|PENDING|None||0" > "$D/$n.q"
echo $n > "$D/next"
echo "$n;fakecluster"
`;

const SQUEUE = `#!/bin/bash
D="$FAKE_SLURM"
echo "$*" >> "$D/squeue.calls"
if [ -f "$D/squeue.fail" ]; then rm -f "$D/squeue.fail"; echo "squeue: error: Socket timed out on send/recv operation" >&2; exit 1; fi
while [ $# -gt 0 ]; do case "$1" in -j) ids="$2"; shift;; esac; shift; done
n=0; found=0
for id in \${ids//,/ }; do n=$((n+1)); if [ -f "$D/$id.q" ]; then cat "$D/$id.q"; found=1; fi; done
if [ $n -eq 1 ] && [ $found -eq 0 ]; then echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1; fi
exit 0
`;

const SCANCEL = `#!/bin/bash
D="$FAKE_SLURM"
echo "$*" >> "$D/scancel.calls"
for id in "$@"; do
  if [ -f "$D/$id.q" ]; then IFS='|' read -r _ _ _ node _ < "$D/$id.q"; echo "$id|CANCELLED|None|$node|15" > "$D/$id.q"; fi
done
`;

export interface FakeSlurm {
  dir: string;
  /** Job ids submitted so far, in order. */
  ids(): string[];
  /** Put job `id` in a state, as squeue will print it (exit: the raw wait status). */
  state(id: string, state: string, opts?: { reason?: string; node?: string; exit?: number }): void;
  /** Purge job `id` from the queue, as slurmctld does MinJobAge after its end. */
  purge(id: string): void;
  /** The job file fisherflow wrote for job `id`. */
  job(id: string): StageJob;
  /** Write job `id`'s result file, as exec-stage would. */
  result(id: string, rec: Partial<JobResultRecord> & { status: JobResultRecord['status'] }): void;
  sbatchArgs(id: string): string[];
  script(id: string): string;
  scancelCalls(): string[][];
  squeueCalls(): number;
  /** The next squeue call fails (slurmctld not answering). */
  failSqueueOnce(): void;
  /** sbatch refuses every job with this message until called with null. */
  refuse(message: string | null): void;
}

/** Installs the fakes first on PATH (this process and its children) and returns their controls. */
export function installFakeSlurm(): FakeSlurm {
  const dir = mkdtempSync(join(tmpdir(), 'ff-fake-slurm-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const [name, text] of [['sbatch', SBATCH], ['squeue', SQUEUE], ['scancel', SCANCEL]] as const) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }
  process.env.FAKE_SLURM = dir;
  process.env.PATH = `${bin}:${process.env.PATH}`;
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
  const fake: FakeSlurm = {
    dir,
    ids: () => {
      const last = Number(read('next').trim() || 100);
      return Array.from({ length: last - 100 }, (_, i) => String(101 + i));
    },
    state(id, state, o = {}) {
      const tmp = join(dir, `${id}.q.tmp`);
      writeFileSync(tmp, `${id}|${state}|${o.reason ?? 'None'}|${o.node ?? ''}|${o.exit ?? 0}\n`);
      renameSync(tmp, join(dir, `${id}.q`));
    },
    purge(id) {
      renameSync(join(dir, `${id}.q`), join(dir, `${id}.purged`));
    },
    job(id) {
      const jobFile = /^JOB='(.*)'$/m.exec(read(`${id}.sh`))![1]!;
      return JSON.parse(readFileSync(jobFile, 'utf8')) as StageJob;
    },
    result(id, rec) {
      const file = fake.job(id).resultFile!;
      writeFileSync(`${file}.tmp`, JSON.stringify({ stage: fake.job(id).stage, seconds: 0.1, gpus: [], ...rec }));
      renameSync(`${file}.tmp`, file);
    },
    sbatchArgs: (id) => read(`${id}.args`).trim().split('\n'),
    script: (id) => read(`${id}.sh`),
    scancelCalls: () => read('scancel.calls').trim().split('\n').filter(Boolean).map((l) => l.split(' ')),
    squeueCalls: () => read('squeue.calls').trim().split('\n').filter(Boolean).length,
    failSqueueOnce: () => writeFileSync(join(dir, 'squeue.fail'), ''),
    refuse: (m) => (m === null ? rmSync(join(dir, 'sbatch.refuse'), { force: true }) : writeFileSync(join(dir, 'sbatch.refuse'), m)),
  };
  return fake;
}

/** Resolves once `cond()` holds (checked every 10 ms); rejects after `ms`. */
export async function until(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
