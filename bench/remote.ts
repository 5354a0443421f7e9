// The shared remote cache on the demo: push and pull of all the demo's results to a local S3
// server (s3rver on 127.0.0.1) and to a plain directory, in MB/s, and `fisherflow run` in a fresh
// clone with a warm remote beside running the demo itself, in one invocation.
//
//   npx tsc -p . && node dist/bench/remote.js [--extra-mb N [--no-demo]] [--dir DIR] [--keep]
//
// A "clone" is a new git project holding pipelines/demo.yaml and data/ (copied from this
// repository) and an empty store, run by this checkout's CLI: the stage keys are the same as in
// a real clone (deps are hashed by content and pipeline-relative path, stage code by content).
// --extra-mb N adds a stage writing N MB of random bytes, to time large files (multipart uploads
// of 16 MiB parts) as well; with --no-demo the pipeline is that stage alone. Every command is a fresh `node bin/fisherflow.js` process; the load
// average is printed with the figures. Prints one line per measurement and a JSON summary last;
// figures go into bench/remote.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../src/stage/registry.js';
import { startS3 } from '../test/helpers/s3rver.js';

function opt(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}
const EXTRA_MB = Number(opt('extra-mb', '0'));
const NO_DEMO = process.argv.includes('--no-demo') && EXTRA_MB > 0;
const BASE = resolve(opt('dir', mkdtempSync(join(tmpdir(), 'fisherflow-bench-remote-'))));
const BIN = join(PACKAGE_ROOT, 'bin', 'fisherflow.js');
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

/** A new project with the demo pipeline, its data and a config naming both remotes. */
function clone(name: string, config: string): string {
  const dir = join(BASE, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'pipelines'), { recursive: true });
  execFileSync('git', ['init', '-q'], { cwd: dir });
  let demo = readFileSync(join(PACKAGE_ROOT, 'pipelines', 'demo.yaml'), 'utf8');
  const large = `  large-file:\n    run: head -c ${EXTRA_MB * 1e6} /dev/urandom > large.bin\n    outs: [large.bin]\n`;
  if (NO_DEMO) demo = `stages:\n${large}`;
  else if (EXTRA_MB > 0) demo = demo.replace(/\nstages:\n/, `\nstages:\n${large}`);
  writeFileSync(join(dir, 'pipelines', 'demo.yaml'), demo);
  cpSync(join(PACKAGE_ROOT, 'data'), join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'fisherflow.config.yaml'), config);
  return dir;
}

function ff(cwd: string, args: string[], env: Record<string, string>): { seconds: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, FISHERFLOW_GPUS: '', ...env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`fisherflow ${args.join(' ')} failed (${r.status}):\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  return { seconds, stdout: r.stdout };
}

const s3 = await startS3('bench');
const ENV = { ...s3.env, AWS_EC2_METADATA_DISABLED: 'true', FISHERFLOW_NO_FAST_PATH: '1' };
const dirRemote = join(BASE, 'dir-remote');
mkdirSync(dirRemote, { recursive: true });
const CONFIG = `remotes:\n  s3: { url: "s3://bench/demo", endpoint: "${s3.endpoint}", path_style: true }\n  dir: { url: "${dirRemote}" }\n`;
const summary: Record<string, unknown> = { load_before: load(), extra_mb: EXTRA_MB, demo: !NO_DEMO };
try {
  const origin = clone('origin', CONFIG);
  const demo = ff(origin, ['run', 'pipelines/demo.yaml', '--no-remote', '--json'], ENV);
  const stages = (JSON.parse(demo.stdout) as { stages: unknown[] }).stages.length;
  console.log(`demo run (origin, empty store): ${demo.seconds.toFixed(1)} s, ${stages} stages   load ${load()}`);
  summary.demo_run_s = demo.seconds;
  summary.stages = stages;
  for (const remote of ['s3', 'dir']) {
    const env = { ...ENV, FISHERFLOW_REMOTE: remote };
    const push = JSON.parse(ff(origin, ['push', 'pipelines/demo.yaml', '--json'], env).stdout) as { pushed: string[]; files: number; bytes: number; seconds: number };
    console.log(`push to ${remote}: ${push.pushed.length} results, ${push.files} files, ${(push.bytes / 1e6).toFixed(1)} MB in ${push.seconds.toFixed(2)} s = ${(push.bytes / 1e6 / push.seconds).toFixed(1)} MB/s   load ${load()}`);
    const fresh = clone(`clone-${remote}`, CONFIG);
    const run = ff(fresh, ['run', 'pipelines/demo.yaml', '--json'], env);
    const ran = (JSON.parse(run.stdout) as { stages: Array<{ status: string }> }).stages.filter((s) => s.status === 'ran').length;
    console.log(`run in a fresh clone, warm ${remote} remote: ${run.seconds.toFixed(1)} s (${ran} stages ran; the demo itself: ${demo.seconds.toFixed(1)} s, ${(demo.seconds / run.seconds).toFixed(1)}x)   load ${load()}`);
    const pulling = clone(`pull-${remote}`, CONFIG);
    cpSync(join(fresh, 'pipelines', 'demo.lock'), join(pulling, 'pipelines', 'demo.lock'));
    const pull = JSON.parse(ff(pulling, ['pull', 'pipelines/demo.yaml', '--json'], env).stdout) as { pulled: string[]; files: number; bytes: number; seconds: number };
    console.log(`pull from ${remote}: ${pull.pulled.length} results, ${pull.files} files, ${(pull.bytes / 1e6).toFixed(1)} MB in ${pull.seconds.toFixed(2)} s = ${(pull.bytes / 1e6 / pull.seconds).toFixed(1)} MB/s (each file's SHA-256 verified)   load ${load()}`);
    summary[remote] = {
      push: { results: push.pushed.length, files: push.files, mb: push.bytes / 1e6, seconds: push.seconds, mb_per_s: push.bytes / 1e6 / push.seconds },
      fresh_clone_run_s: run.seconds,
      fresh_clone_ran: ran,
      speedup_vs_demo: demo.seconds / run.seconds,
      pull: { results: pull.pulled.length, files: pull.files, mb: pull.bytes / 1e6, seconds: pull.seconds, mb_per_s: pull.bytes / 1e6 / pull.seconds },
    };
  }
} finally {
  await s3.stop();
  summary.load_after = load();
  if (!process.argv.includes('--keep')) rmSync(BASE, { recursive: true, force: true });
}
console.log(JSON.stringify(summary));
