// `fisherflow pull [STAGE...] [PIPELINE]`: download the results the lock file records from the
// remote into the local store, each verified before it is installed (src/cache/remote/pull.ts).
import type { Command } from 'commander';
import { addTransferOptions, examples, out } from '../options.js';
import type { TransferOptions } from '../remote-options.js';

export function register(program: Command): void {
  addTransferOptions(program.command('pull'), 'pulled')
    .description("download the lock file's results from the remote into the local store (each file's SHA-256 verified)")
    .addHelpText('after', examples(['fisherflow pull', 'fisherflow pull overlap pipelines/demo.yaml', 'fisherflow pull --remote shared --json']))
    .action(pullCommand);
}

export async function pullCommand(args: string[], o: TransferOptions): Promise<void> {
  const { transferTargets, transferProgress, openChosen } = await import('../remote-options.js');
  const { DownloadedBlobs, fetchResult, readRemoteRecord } = await import('../../cache/remote/pull.js');
  const { RemoteIndex } = await import('../../cache/remote/remote-index.js');
  const { RemoteError } = await import('../../cache/remote/remote-store.js');
  const { fmtBytes, fmtRate } = await import('../../cache/remote/transfer-progress.js');
  const { default: PQueue } = await import('p-queue');
  const { targets, store, chosen } = transferTargets(args, o);
  // Results the store already holds intact are not downloaded again.
  const present: string[] = [];
  const wanted = targets.filter((t) => {
    const rec = store.readRecord(t.key);
    if (rec && !store.verify(rec)) {
      present.push(t.stage);
      return false;
    }
    return true;
  });
  const remote = await openChosen(chosen, store.root);
  const progress = transferProgress('pull', o.json);
  const pulled: string[] = [];
  const missing: string[] = [];
  const failed: Array<{ stage: string; error: string }> = [];
  try {
    const index = new RemoteIndex(remote);
    await index.prefetch('runs', wanted.map((t) => t.key));
    const transfers = new PQueue({ concurrency: chosen.concurrency });
    const downloaded = new DownloadedBlobs();
    await Promise.all(
      wanted.map(async (t) => {
        try {
          const record = (await index.get('runs', t.key)) && (await readRemoteRecord(remote, t.key));
          if (!record) return void missing.push(t.stage);
          await fetchResult(store, remote, record, { transfers, progress, downloaded });
          pulled.push(t.stage);
        } catch (e) {
          // A result that fails verification is reported and skipped; a remote that fails as a whole stops the pull.
          if (e instanceof RemoteError && e.problem === 'integrity') failed.push({ stage: t.stage, error: e.message });
          else throw e;
        }
      }),
    );
    const t = progress.finish();
    if (o.json) {
      out(`${JSON.stringify({ remote: remote.name, url: remote.url, pulled, present, missing, failed, files: t.files, bytes: t.bytes, seconds: Math.round(t.seconds * 1000) / 1000 })}\n`);
    } else {
      out(`pulled ${pulled.length} result${pulled.length === 1 ? '' : 's'} from '${remote.name}' (${remote.url}): ${t.files} files, ${fmtBytes(t.bytes)} in ${t.seconds.toFixed(1)} s${t.bytes >= 1e6 ? ` (${fmtRate(t.bytes, t.seconds)})` : ''}, each verified; ${present.length} already here\n`);
      if (missing.length) out(`  not on the remote: ${missing.join(', ')}\n`);
      for (const f of failed) out(`  not installed: ${f.stage}: ${f.error}\n`);
    }
    process.exitCode = missing.length || failed.length ? 1 : 0;
  } finally {
    progress.finish();
    remote.close();
  }
}
