// The `remotes:` and `remote:` sections of the project config (src/config/project-config.ts; their
// shape is checked by schema/fisherflow.config.schema.json, their meaning here):
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
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../errors.js';
import { didYouMean } from '../../pipeline/errors.js';
import { parseMemory } from '../../schedule/devices.js';
import { CONFIG_FILE, type ProjectConfig } from '../../config/project-config.js';
import type { PathSegment } from '../../pipeline/source.js';

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

const S3_ONLY = ['region', 'endpoint', 'path_style', 'profile', 'multipart_threshold', 'part_size'];

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The remotes the project at `root` declares, validated (errors name the config file, line and column). */
export function remoteSettings(config: ProjectConfig, root: string): RemoteSettings {
  const raw = config.get(['remotes']) ?? {};
  const use = config.get(['remote']) ?? {};
  const locate = (path: PathSegment[]) => config.locate(path) ?? { file: join(root, CONFIG_FILE), line: 1, column: 1 };
  if (!isMap(raw) || !isMap(use)) throw new UserError('`remotes:` and `remote:` must be maps', locate([isMap(raw) ? 'remote' : 'remotes']));
  const remotes = new Map<string, RemoteSpec>();
  for (const [name, r] of Object.entries(raw)) {
    const spec = r as Record<string, unknown>;
    const at = (k: string) => locate(['remotes', name, k]);
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
    // Not required by the schema: a local file may override one key of a remote the project file declares.
    const url = spec.url as string | undefined;
    if (url === undefined) throw new UserError(`remote '${name}' has no \`url:\` (s3://bucket/prefix or a folder)`, locate(['remotes', name]));
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
      path = isAbsolute(url) ? url : resolve(root, url);
    }
    if (kind === 'directory') {
      for (const k of S3_ONLY) if (spec[k] !== undefined) throw new UserError(`remote '${name}': \`${k}\` applies to s3:// remotes only`, at(k));
    }
    const endpoint = spec.endpoint as string | undefined;
    if (endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(endpoint)) throw new UserError(`remote '${name}': \`endpoint\` must be an http:// or https:// URL`, at('endpoint'));
    remotes.set(name, {
      name,
      kind,
      url,
      path,
      region: spec.region as string | undefined,
      endpoint,
      pathStyle: spec.path_style as boolean | undefined,
      profile: spec.profile as string | undefined,
      multipartThreshold: size('multipart_threshold'),
      partSize: size('part_size'),
      concurrency: spec.concurrency as number | undefined,
    });
  }
  const def = use.default as string | undefined;
  if (def !== undefined && !remotes.has(def)) {
    throw new UserError(`remote.default: no remote named '${def}'${didYouMean(def, remotes.keys())}; declared: ${[...remotes.keys()].join(', ') || 'none'}`, locate(['remote', 'default']));
  }
  return { remotes, default: def ?? (remotes.size === 1 ? [...remotes.keys()][0] : undefined), push: use.push === true };
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
