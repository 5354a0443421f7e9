// Progress of a push or pull in bytes: a live bar with MB/s and ETA on a terminal (cli-progress),
// a line every few seconds otherwise, nothing with --json. The totals (files, bytes, seconds) are
// what the command prints at the end and what the benchmark reads.
import cliProgress from 'cli-progress';
import { fmtDuration } from '../../exec/display.js';

export interface TransferTotals {
  files: number;
  bytes: number;
  /** Bytes not transferred: stored by an interrupted upload, or copied from a file this command already downloaded. */
  resumedBytes: number;
  seconds: number;
}

export interface TransferProgress {
  /** More work: files and bytes still to move. */
  expect(files: number, bytes: number): void;
  advance(bytes: number): void;
  /** Bytes that need no transfer (see TransferTotals.resumedBytes). */
  resumed(bytes: number): void;
  fileDone(): void;
  finish(): TransferTotals;
}

export const MB = 1e6;

export function fmtBytes(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= MB ? `${(n / MB).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`;
}

export function fmtRate(bytes: number, seconds: number): string {
  return seconds > 0 ? `${(bytes / MB / seconds).toFixed(1)} MB/s` : '';
}

export function createTransferProgress(opts: { verb: string; mode: 'tty' | 'plain' | 'quiet'; stream?: NodeJS.WritableStream; intervalMs?: number }): TransferProgress {
  const t0 = performance.now();
  const stream = opts.stream ?? process.stderr;
  let files = 0;
  let filesDone = 0;
  let total = 0;
  let done = 0;
  let resumedBytes = 0;
  let lastLine = t0;
  const seconds = () => (performance.now() - t0) / 1000;
  const bar =
    opts.mode === 'tty'
      ? new cliProgress.SingleBar(
          {
            stream,
            format: (options, params) => {
              const s = seconds();
              const rate = s > 0.2 ? done / s : 0;
              const eta = rate > 0 ? fmtDuration((total - params.value) / rate) : '?';
              return `${opts.verb} ${cliProgress.Format.BarFormat(params.progress, options)} ${fmtBytes(done)}/${fmtBytes(total)}  ${(rate / MB).toFixed(1)} MB/s  ETA ${eta}  ${filesDone}/${files} files`;
            },
            barsize: 24,
            barCompleteChar: '█',
            barIncompleteChar: '░',
            hideCursor: true,
            gracefulExit: true,
            fps: 5,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  let started = false;
  let stopped = false;
  const update = () => {
    if (stopped) return;
    if (bar) {
      if (!started && total > 0) {
        bar.start(total, done);
        started = true;
      } else if (started) {
        bar.setTotal(total);
        bar.update(done);
      }
    } else if (opts.mode === 'plain' && performance.now() - lastLine >= (opts.intervalMs ?? 5000)) {
      lastLine = performance.now();
      stream.write(`${opts.verb}: ${fmtBytes(done)} of ${fmtBytes(total)}, ${filesDone} of ${files} files, ${fmtRate(done, seconds())}\n`);
    }
  };
  return {
    expect(f, b) {
      files += f;
      total += b;
      update();
    },
    advance(b) {
      done += b;
      update();
    },
    resumed(b) {
      resumedBytes += b;
      done += b;
      update();
    },
    fileDone() {
      filesDone++;
      update();
    },
    finish() {
      if (bar && started && !stopped) {
        stopped = true;
        bar.update(done);
        bar.stop();
      }
      return { files: filesDone, bytes: done - resumedBytes, resumedBytes, seconds: seconds() };
    },
  };
}
