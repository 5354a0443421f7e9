// A small project for the remote tests: command stages (one output a folder, one a 3 MB file that
// goes up in parts), a built-in stage, and a stage downstream of both; plus its remote config.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestS3 } from '../helpers/s3rver.js';

export const PIPELINE = `params:
  n: 3
stages:
  data:
    run: seq \${{ params.n }} > data.txt && mkdir -p d/e d/empty && echo hi > d/e/f.txt && head -c 3000000 /dev/urandom > d/big.bin
    outs: [data.txt, d]
  note:
    uses: write
    with: { text: "n=\${{ params.n }}" }
  sum:
    run: cat data.txt d/e/f.txt \${{ stages.note.outputs.file }} > sum.txt && date +%s%N >> sum.txt
    deps: [data.txt, d]
    outs: [sum.txt]
`;

/** A fresh git project with the pipeline and a config naming `remote` as 'shared'. */
export function project(remote: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ff-remote-'));
  execFileSync('git', ['init', '-q'], { cwd: dir });
  writeFileSync(join(dir, 'fisherflow.yaml'), PIPELINE);
  writeFileSync(join(dir, 'fisherflow.config.yaml'), `remotes:\n  shared:\n${remote}`);
  return dir;
}

export function s3Config(s3: TestS3, prefix: string, extra = ''): string {
  return `    url: s3://${s3.bucket}/${prefix}\n    endpoint: ${s3.endpoint}\n    path_style: true\n    multipart_threshold: 1MB\n    part_size: 1MiB\n${extra}`;
}

export function directoryConfig(path: string): string {
  mkdirSync(path, { recursive: true });
  return `    url: ${path}\n`;
}

/** Every workspace output file → its bytes, to compare two clones. */
export function outputs(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(join(dir, r)).isDirectory()) walk(r);
      else out[r] = readFileSync(join(dir, r)).toString('base64');
    }
  };
  for (const p of ['data.txt', 'd', 'sum.txt']) {
    if (statSync(join(dir, p)).isDirectory()) walk(p);
    else out[p] = readFileSync(join(dir, p)).toString('base64');
  }
  return out;
}

/** The remote's files under `root` whose relative path matches. */
export function remoteFiles(root: string, pattern: RegExp): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(join(root, rel));
    } catch {
      return;
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(join(root, r)).isDirectory()) walk(r);
      else if (pattern.test(r)) out.push(join(root, r));
    }
  };
  walk('');
  return out.sort();
}

/** The environment for the CLI: s3rver's credentials, and never the EC2 metadata service. */
export const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true', FISHERFLOW_NO_FAST_PATH: '' };
