// `fisherflow push [STAGE...] [PIPELINE]`: upload the results the lock file records to the remote
// (blobs, then manifests, then run records; see src/cache/remote/push.ts).
import type { Command } from 'commander';
import { addTransferOptions, examples, out } from '../options.js';
import type { TransferOptions } from '../remote-options.js';

export function register(program: Command): void {
  addTransferOptions(program.command('push'), 'pushed')
    .description("upload the lock file's results to the remote, so that others fetch instead of recomputing")
    .addHelpText('after', examples(['fisherflow push                       # every result the lock file records', 'fisherflow push train fim             # these stages (a foreach name: all its members)', 'fisherflow push pipelines/demo.yaml --remote shared']))
    .action(pushCommand);
}

export async function pushCommand(args: string[], o: TransferOptions): Promise<void> {
  const { transferTargets, transferProgress, openChosen } = await import('../remote-options.js');
  const { pushResults } = await import('../../cache/remote/push.js');
  const { fmtBytes, fmtRate } = await import('../../cache/remote/transfer-progress.js');
  const { targets, store, chosen } = transferTargets(args, o);
  const items = [];
  const absent: string[] = [];
  for (const t of targets) {
    const record = store.readRecord(t.key);
    if (record) items.push({ stage: t.stage, record });
    else absent.push(t.stage);
  }
  const remote = await openChosen(chosen, store.root);
  const progress = transferProgress('push', o.json);
  try {
    const report = await pushResults(store, remote, items, { concurrency: chosen.concurrency, progress });
    const t = progress.finish();
    const skipped = [...absent.map((stage) => ({ stage, why: 'not in the local store (run or pull it first)' })), ...report.skipped];
    if (o.json) {
      out(`${JSON.stringify({ remote: remote.name, url: remote.url, pushed: report.pushed, present: report.present, skipped, files: t.files, bytes: t.bytes, resumedBytes: t.resumedBytes, seconds: Math.round(t.seconds * 1000) / 1000 })}\n`);
    } else {
      out(`pushed ${report.pushed.length} result${report.pushed.length === 1 ? '' : 's'} to '${remote.name}' (${remote.url}): ${t.files} files, ${fmtBytes(t.bytes)} in ${t.seconds.toFixed(1)} s${t.bytes >= 1e6 ? ` (${fmtRate(t.bytes, t.seconds)})` : ''}${t.resumedBytes ? `, ${fmtBytes(t.resumedBytes)} resumed from an interrupted push` : ''}; ${report.present.length} already there\n`);
      for (const s of skipped) out(`  not pushed: ${s.stage}: ${s.why}\n`);
    }
    process.exitCode = skipped.length ? 1 : 0;
  } finally {
    progress.finish();
    remote.close();
  }
}
