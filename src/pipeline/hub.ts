// Models and tokenizers by Hugging Face id, offline. A path input whose stage marks it
// HUB_KEYWORD, whose value is not a local path but looks like a hub id (`bert-base-cased`,
// `org/name`), names a snapshot in the local Hugging Face cache, laid out as huggingface_hub
// writes it: `<cache>/models--ORG--NAME/refs/main` holds a commit, `snapshots/<commit>/` the files
// (links into `blobs/`). Nothing is downloaded: a miss says where it looked and how to download.
// For the tokenizer of `bert-base-cased` only, the copy vendored with fisherflow stands in.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../package-root.js';

/** What a hub id resolved to. `dir` is the snapshot (or the vendored fallback); absent on a miss. */
export interface HubInput {
  id: string;
  /** The cache folder searched, and which setting chose it. */
  cache: string;
  via: string;
  /** `<cache>/models--ORG--NAME`. */
  repoDir: string;
  dir?: string;
  revision?: string;
  /** Set when the vendored copy stands in for a tokenizer missing from the cache. */
  fallback?: boolean;
  /** Why the cache had nothing usable. */
  missReason?: string;
}

/** The environment variables that choose the cache folder, in huggingface_hub's order. */
export const HUB_ENV = ['HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME', 'HOME'];

/** Tokenizers vendored with fisherflow (tokenizer files only, no weights), by hub id. */
const VENDORED_TOKENIZERS: Record<string, string> = { 'bert-base-cased': join(PACKAGE_ROOT, 'data', 'bert-base-cased') };

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)?$/;

/** `bert-base-cased`, `org/name`: a hub id's shape (the caller has checked it is not a local path). */
export function looksLikeHubId(value: string): boolean {
  return ID.test(value) && !value.includes('..') && !/\.(json|txt|tsv|csv|jsonl|bin|safetensors|gz|parquet)$/.test(value);
}

/** The hub cache folder huggingface_hub would use, and the setting that chose it. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): { dir: string; via: string } {
  if (env.HF_HUB_CACHE) return { dir: env.HF_HUB_CACHE, via: 'HF_HUB_CACHE' };
  if (env.HUGGINGFACE_HUB_CACHE) return { dir: env.HUGGINGFACE_HUB_CACHE, via: 'HUGGINGFACE_HUB_CACHE' };
  if (env.HF_HOME) return { dir: join(env.HF_HOME, 'hub'), via: 'HF_HOME/hub' };
  if (env.XDG_CACHE_HOME) return { dir: join(env.XDG_CACHE_HOME, 'huggingface', 'hub'), via: 'XDG_CACHE_HOME/huggingface/hub' };
  return { dir: join(env.HOME || homedir(), '.cache', 'huggingface', 'hub'), via: 'the default, ~/.cache/huggingface/hub' };
}

/** Resolve a hub id in the local cache; `tokenizer` allows the vendored fallback. */
export function resolveHubId(id: string, kind: 'model' | 'tokenizer', env: NodeJS.ProcessEnv = process.env): HubInput {
  const { dir: cache, via } = hubCacheDir(env);
  const repoDir = join(cache, `models--${id.split('/').join('--')}`);
  const out: HubInput = { id, cache, via, repoDir };
  const ref = join(repoDir, 'refs', 'main');
  if (!existsSync(repoDir)) out.missReason = `${repoDir} does not exist`;
  else if (!existsSync(ref)) out.missReason = `${repoDir} has no refs/main (a download of a branch or commit other than main?)`;
  else {
    const revision = readFileSync(ref, 'utf8').trim();
    const snapshot = join(repoDir, 'snapshots', revision);
    if (existsSync(snapshot)) return { ...out, dir: snapshot, revision };
    out.missReason = `refs/main names ${revision}, but ${snapshot} does not exist`;
  }
  const vendored = kind === 'tokenizer' ? VENDORED_TOKENIZERS[id] : undefined;
  if (vendored && existsSync(vendored)) return { ...out, dir: vendored, fallback: true };
  return out;
}

/** The located error's text for an id the cache does not hold. */
export function hubMissMessage(h: HubInput, input: string): string {
  return (
    `${input}: '${h.id}' is not a local path and not in the Hugging Face cache: looked in ${h.cache} (${h.via}): ${h.missReason}. ` +
    `fisherflow never downloads; fetch it once with \`huggingface-cli download ${h.id}\` (or set HF_HUB_CACHE / HF_HOME to the cache that holds it), or give a local folder`
  );
}

/** The note a run prints when the vendored tokenizer stands in. */
export function hubFallbackNote(h: HubInput, input: string): string {
  return `${input} '${h.id}': not in the Hugging Face cache (${h.missReason}); using the tokenizer files vendored with fisherflow (${h.dir}). \`huggingface-cli download ${h.id}\` to use the hub's`;
}
