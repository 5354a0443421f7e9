// The `remotes:` and `remote:` sections of the project config (src/config/project-config.ts):
//
//   remotes:                         named remotes
//     lab:
//       url: s3://bucket/prefix      or /shared/nfs/cache, file:///shared/nfs/cache, ../relative/to/project
//       region: eu-west-1            s3 only, all optional: region, endpoint (MinIO, Ceph, s3rver),
//       endpoint: http://host:9000     path_style, profile (an AWS profile), multipart_threshold,
//       path_style: true               part_size (sizes such as 64MB or 16MiB)
//       profile: lab
//     nfs: { url: /shared/nfs/fisherflow-cache }
//     # any remote: concurrency (transfers in flight, default 8 for s3, 4 for a folder)
//   remote:
//     default: lab                   the remote run/status/push/pull/gc use (one declared remote is the default)
//     push: false                    `run` pushes what it computed (as with --push)
//
// `FISHERFLOW_REMOTE=NAME` picks the remote for one shell, `--remote NAME` for one command.
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../errors.js';
import { didYouMean } from '../../pipeline/errors.js';
import { parseMemory } from '../../schedule/devices.js';
import type { ProjectConfig } from '../../config/project-config.js';

export interface RemoteSpec {
  name: string;
  kind: 's3' | 'directory';
  /** As configured (for messages). */
  url: string;
  /** directory: the absolute folder. */
  path?: string;
  region?: string;
  endpoint?: string;
  pathStyle?: boolean;
  profile?: string;
  multipartThreshold?: number;
  partSize?: number;
  concurrency?: number;
}

export interface RemoteSettings {
  remotes: Map<string, RemoteSpec>;
  default?: string;
  push: boolean;
}

const REMOTE_KEYS = ['url', 'region', 'endpoint', 'path_style', 'profile', 'multipart_threshold', 'part_size', 'concurrency'];
const S3_ONLY = REMOTE_KEYS.filter((k) => !['url', 'concurrency'].includes(k));
const NAME = /^[A-Za-z0-9_-]+$/;

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The remotes the project declares, validated (errors name the config file, line and column). */
export function remoteSettings(config: ProjectConfig): RemoteSettings {
  const raw = config.section('remotes') ?? {};
  const use = config.section('remote') ?? {};
  if (!isMap(raw)) throw new UserError('`remotes:` must be a map of remote name → {url: ...}', config.locate(['remotes']));
  if (!isMap(use)) throw new UserError('`remote:` must be a map with `default:` and/or `push:`', config.locate(['remote']));
  const remotes = new Map<string, RemoteSpec>();
  for (const [name, r] of Object.entries(raw)) {
    const at = (k?: string) => config.locate(k ? ['remotes', name, k] : ['remotes', name], k ? 'value' : 'key');
    if (!NAME.test(name)) throw new UserError(`remote name '${name}': use letters, digits, '_' and '-'`, at());
    const spec = isMap(r) ? r : typeof r === 'string' ? { url: r } : undefined;
    if (!spec) throw new UserError(`remote '${name}' must be a URL or a map with \`url:\``, at());
    for (const k of Object.keys(spec)) {
      if (!REMOTE_KEYS.includes(k)) throw new UserError(`remote '${name}': unknown key '${k}'${didYouMean(k, REMOTE_KEYS)}; keys: ${REMOTE_KEYS.join(', ')}`, config.locate(['remotes', name, k], 'key'));
    }
    const str = (k: string): string | undefined => {
      const v = spec[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'string' || v === '') throw new UserError(`remote '${name}': \`${k}\` must be a non-empty string`, at(k));
      return v;
    };
    const size = (k: string): number | undefined => {
      const v = spec[k];
      if (v === undefined) return undefined;
      if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
      try {
        return Math.round(parseMemory(String(v), `remote '${name}': ${k}`) * 1024 * 1024);
      } catch (e) {
        throw new UserError((e as Error).message, at(k));
      }
    };
    const url = str('url');
    if (!url) throw new UserError(`remote '${name}' has no \`url:\` (s3://bucket/prefix or a folder)`, at());
    let kind: RemoteSpec['kind'];
    let path: string | undefined;
    if (/^s3:\/\//.test(url)) {
      if (!/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(url)) throw new UserError(`remote '${name}': '${url}' is not a valid s3://bucket/prefix URL`, at('url'));
      kind = 's3';
    } else if (/^file:\/\//.test(url)) {
      kind = 'directory';
      path = fileURLToPath(url);
    } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
      throw new UserError(`remote '${name}': unsupported URL '${url}'; use s3://bucket/prefix, file:///folder or a folder path`, at('url'));
    } else {
      kind = 'directory';
      path = isAbsolute(url) ? url : resolve(config.root, url);
    }
    if (kind === 'directory') {
      for (const k of S3_ONLY) if (spec[k] !== undefined) throw new UserError(`remote '${name}': \`${k}\` applies to s3:// remotes only`, config.locate(['remotes', name, k], 'key'));
    }
    const pathStyle = spec.path_style;
    if (pathStyle !== undefined && typeof pathStyle !== 'boolean') throw new UserError(`remote '${name}': \`path_style\` must be true or false`, at('path_style'));
    const concurrency = spec.concurrency;
    if (concurrency !== undefined && !(Number.isInteger(concurrency) && (concurrency as number) >= 1 && (concurrency as number) <= 256)) throw new UserError(`remote '${name}': \`concurrency\` must be a whole number from 1 to 256`, at('concurrency'));
    const endpoint = str('endpoint');
    if (endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(endpoint)) throw new UserError(`remote '${name}': \`endpoint\` must be an http:// or https:// URL`, at('endpoint'));
    remotes.set(name, {
      name,
      kind,
      url,
      path,
      region: str('region'),
      endpoint,
      pathStyle: pathStyle as boolean | undefined,
      profile: str('profile'),
      multipartThreshold: size('multipart_threshold'),
      partSize: size('part_size'),
      concurrency: concurrency as number | undefined,
    });
  }
  for (const k of Object.keys(use)) {
    if (k !== 'default' && k !== 'push') throw new UserError(`remote: unknown key '${k}'${didYouMean(k, ['default', 'push'])}; keys: default, push`, config.locate(['remote', k], 'key'));
  }
  const def = use.default;
  if (def !== undefined && (typeof def !== 'string' || !remotes.has(def))) {
    throw new UserError(`remote.default: no remote named ${JSON.stringify(def)}${didYouMean(String(def), remotes.keys())}; declared: ${[...remotes.keys()].join(', ') || 'none'}`, config.locate(['remote', 'default']));
  }
  if (use.push !== undefined && typeof use.push !== 'boolean') throw new UserError('remote.push must be true or false', config.locate(['remote', 'push']));
  return { remotes, default: (def as string | undefined) ?? (remotes.size === 1 ? [...remotes.keys()][0] : undefined), push: use.push === true };
}

/**
 * The remote a command uses: `requested` is --remote NAME (a string), --no-remote (false), or
 * nothing (FISHERFLOW_REMOTE, else the default). Undefined: work locally.
 */
export function chooseRemote(settings: RemoteSettings, requested: string | boolean | undefined, env: NodeJS.ProcessEnv = process.env): RemoteSpec | undefined {
  if (requested === false) return undefined;
  const name = typeof requested === 'string' ? requested : env.FISHERFLOW_REMOTE || settings.default;
  if (name === undefined) return undefined;
  const spec = settings.remotes.get(name);
  if (!spec) {
    const from = typeof requested === 'string' ? '--remote' : 'FISHERFLOW_REMOTE';
    throw new UserError(`${from}: no remote named '${name}'${didYouMean(name, settings.remotes.keys())}; declared: ${[...settings.remotes.keys()].join(', ') || `none (declare remotes in fisherflow.config.yaml)`}`);
  }
  return spec;
}
