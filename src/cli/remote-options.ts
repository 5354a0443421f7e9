// What the commands that use a remote share (run, status, push, pull, gc): choosing and opening
// the configured remote, and `push`/`pull`'s [STAGE...] [PIPELINE] targets. Imported on use.
import { existsSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { loadProjectConfig } from '../config/project-config.js';
import { chooseRemote, remoteSettings, type RemoteSettings, type RemoteSpec } from '../cache/remote/remote-config.js';
import { DEFAULT_CONCURRENCY, openRemote } from '../cache/remote/kinds.js';
import { RemoteError, type RemoteStore } from '../cache/remote/remote-store.js';
import { RemoteResults, type RemoteFetch } from '../cache/remote/remote-results.js';
import { pushResults } from '../cache/remote/push.js';
import { lockPathFor, readLock, type LockFile } from '../cache/lockfile.js';
import { ContentStore, type RunRecord } from '../cache/store.js';
import { createTransferProgress, fmtBytes, type TransferProgress } from '../cache/remote/transfer-progress.js';
import { defaultPipelineFile, projectRoot, storeRootFor } from '../plan/workspace.js';
import { isPipelineArg } from './options.js';
import { unknownStage } from './stage-target.js';

export interface ChosenRemote {
  spec: RemoteSpec;
  settings: RemoteSettings;
  /** Transfers in flight at once. */
  concurrency: number;
}

/** The remote a command at project `root` uses (undefined: none configured, or --no-remote). */
export function chosenRemote(root: string, requested: string | boolean | undefined, jobs?: number): ChosenRemote | undefined {
  const settings = remoteSettings(loadProjectConfig(root), root);
  const spec = chooseRemote(settings, requested);
  return spec && { spec, settings, concurrency: jobs ?? spec.concurrency ?? DEFAULT_CONCURRENCY[spec.kind] };
}

/** Like chosenRemote, but a command that needs a remote says how to declare one. */
export function requiredRemote(root: string, requested: string | undefined, jobs?: number): ChosenRemote {
  const c = chosenRemote(root, requested, jobs);
  if (!c) {
    throw new UserError(
      'no remote to use: declare one in fisherflow.config.yaml at the project root',
      undefined,
      'remotes:\n    lab: { url: s3://bucket/prefix }      # or a shared folder: { url: /shared/nfs/cache }\n  and pick one with remote.default, --remote NAME or $FISHERFLOW_REMOTE when there are several',
    );
  }
  return c;
}

export function openChosen(c: ChosenRemote, storeRoot: string): Promise<RemoteStore> {
  return openRemote(c.spec, storeRoot);
}

/** `push`/`pull` arguments: an optional pipeline file first (it ends in .yaml/.yml), then stages. */
export function splitTargets(args: string[]): { pipeline?: string; stages: string[] } {
  // The pipeline is the last positional argument, as in every command; first is read too.
  const i = args.length && isPipelineArg(args[args.length - 1]) ? args.length - 1 : args.length && isPipelineArg(args[0]) ? 0 : -1;
  if (i < 0) return { stages: args };
  return { pipeline: args[i], stages: args.filter((_, j) => j !== i) };
}

/** The lock file's stages to move: all, or the named ones (a foreach/matrix family names all its members). */
export function lockTargets(lockFile: string, lock: LockFile, stages: string[]): Array<{ stage: string; key: string }> {
  const names = Object.keys(lock.stages);
  if (stages.length === 0) return names.map((n) => ({ stage: n, key: lock.stages[n].key }));
  const picked = new Set<string>();
  for (const s of stages) {
    const members = names.filter((n) => n === s || n.startsWith(`${s}@`));
    if (members.length === 0) throw unknownStage(s, names, `${lockFile} records no stage`);
    for (const m of members) picked.add(m);
  }
  return names.filter((n) => picked.has(n)).map((n) => ({ stage: n, key: lock.stages[n].key }));
}

export interface TransferOptions {
  remote?: string;
  store?: string;
  jobs?: number;
  json?: boolean;
}

/** What `push` and `pull` work on: the pipeline's lock file entries to move, the store, the remote. */
export function transferTargets(args: string[], o: TransferOptions): { lockFile: string; targets: Array<{ stage: string; key: string }>; store: ContentStore; chosen: ChosenRemote } {
  const { pipeline, stages } = splitTargets(args);
  const pipelineFile = resolve(pipeline ?? defaultPipelineFile());
  if (!existsSync(pipelineFile)) throw new UserError(`pipeline file not found: ${pipeline}`);
  const root = projectRoot(dirname(pipelineFile));
  const lockFile = lockPathFor(pipelineFile);
  const lock = readLock(lockFile);
  if (!lock) throw new UserError(`no lock file ${relative(process.cwd(), lockFile)}: nothing has run here yet`, undefined, '`fisherflow run` fetches from the remote what it would otherwise compute');
  const chosen = requiredRemote(root, o.remote, o.jobs);
  return { lockFile, targets: lockTargets(relative(process.cwd(), lockFile), lock, stages), store: new ContentStore(storeRootFor(root, o.store)), chosen };
}

/** Progress on stderr: a live bar on a terminal, lines otherwise, nothing with --json. */
export function transferProgress(verb: string, json: boolean | undefined): TransferProgress {
  return createTransferProgress({ verb, mode: json ? 'quiet' : process.stderr.isTTY ? 'tty' : 'plain', stream: process.stderr });
}

export interface RunRemote {
  /** Asked for each stale stage; the remote is opened (and the S3 SDK loaded) on the first question. */
  results: RemoteFetch;
  /** Push what the run computed (--push, or remote.push in the config; --no-push wins). */
  push: boolean;
  /** Upload these results; a summary line, or the error. */
  pushResults(items: Array<{ stage: string; record: RunRecord }>, json: boolean | undefined): Promise<{ ok: boolean; message: string }>;
  close(): void;
}

/** The remote `run` consults (and pushes to), or undefined when none is configured or --no-remote. */
export function runRemote(root: string, store: ContentStore, o: { remote?: string | boolean; push?: boolean }, note: (stage: string | undefined, message: string) => void): RunRemote | undefined {
  const chosen = o.push === true ? requiredRemote(root, typeof o.remote === 'string' ? o.remote : undefined) : chosenRemote(root, o.remote);
  if (!chosen) return undefined;
  let opened: RemoteResults | undefined;
  let opening: Promise<RemoteResults> | undefined;
  const open = () => (opening ??= openChosen(chosen, store.root).then((remote) => (opened = new RemoteResults(remote, store, { concurrency: chosen.concurrency, note }))));
  return {
    results: { name: chosen.spec.name, fetch: async (key, stage) => (await open()).fetch(key, stage) },
    push: o.push ?? chosen.settings.push,
    async pushResults(items, json) {
      const progress = transferProgress('push', json);
      try {
        const { remote, index } = await open();
        const report = await pushResults(store, remote, items, { concurrency: chosen.concurrency, progress, index });
        const t = progress.finish();
        const notPushed = report.skipped.map((s) => `; not pushed: ${s.stage}: ${s.why}`).join('');
        return { ok: report.skipped.length === 0, message: `pushed ${report.pushed.length} result${report.pushed.length === 1 ? '' : 's'} to '${remote.name}' (${fmtBytes(t.bytes)} in ${t.seconds.toFixed(1)} s)${notPushed}` };
      } catch (e) {
        progress.finish();
        if (e instanceof RemoteError) return { ok: false, message: `push failed: ${e.message}` };
        throw e;
      }
    },
    close: () => opened?.close(),
  };
}
