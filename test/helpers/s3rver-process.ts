// A real S3 server (s3rver) in a child process, for the remote tests: started on a free port of
// 127.0.0.1 with one bucket, it prints {"port": N} once listening and stops when its stdin closes.
// (A child process, because the CLI tests block their own event loop in spawnSync.)
import { createRequire } from 'node:module';

const [directory, bucket] = process.argv.slice(2);
const S3rver = createRequire(import.meta.url)('s3rver') as new (o: object) => { run(): Promise<{ port: number }>; close(): Promise<void> };
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
