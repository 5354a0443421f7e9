// Start and stop the test S3 server (s3rver, see s3rver-process.ts) from a test.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface TestS3 {
  endpoint: string;
  port: number;
  bucket: string;
  /** Where s3rver keeps the bucket's objects (to damage one on purpose). */
  directory: string;
  /** The environment a client needs (s3rver's built-in account). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('./s3rver-process.js', import.meta.url));

export async function startS3(bucket = 'ff-test'): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), 'ff-s3rver-'));
  const child: ChildProcess = spawn(process.execPath, [SCRIPT, directory, bucket], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    bucket,
    directory,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}
