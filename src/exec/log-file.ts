// A stage's log file: output appended as it comes, split into lines for the live display.
//
// Public surface:
//   openStageLog(logFile, onLine?, onWriteError?): StageLog   append raw chunks and whole lines; close() flushes
//   logTail(logFile, lines = 20): string[]       last lines of a log file ([] if it does not exist)
// A log that cannot be written (disk full) never throws into the engine: the first failure is
// kept as `writeError` (naming the file) and reported once to `onWriteError`, whose caller stops
// the stage; lines still reach `onLine`.
import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { WriteError } from '../errors.js';

export interface StageLog {
  /** Raw output of a process stream; lines go to onLine once complete. */
  chunk(stream: 'stdout' | 'stderr', data: Buffer | string): void;
  /** One whole line (from ctx.log, or a message of the engine). */
  line(text: string): void;
  /** Flushes partial lines and closes the file. Idempotent. */
  close(): void;
  /** Set once opening or writing the file failed: the log is incomplete from there on. */
  readonly writeError: WriteError | undefined;
}

// Writes are synchronous: a log must be complete on disk the moment a stage fails (its tail is
// read right after), and stage output is small next to the work that produces it. Only whole
// lines are written, so stdout and stderr never interleave mid-line; a carriage-return redraw
// (tqdm-style progress) keeps only its last state, so logs do not fill with bar frames.
export function openStageLog(logFile: string, onLine?: (line: string) => void, onWriteError?: (err: WriteError) => void): StageLog {
  let fd: number | null = null;
  let writeError: WriteError | undefined;
  const fail = (e: unknown) => {
    writeError ??= new WriteError(logFile, e, "the stage's log");
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        /* closing is all that is left to do */
      }
      fd = null;
    }
  };
  try {
    mkdirSync(dirname(logFile), { recursive: true });
    fd = openSync(logFile, 'a');
  } catch (e) {
    fail(e); // the caller checks writeError before starting the stage
  }
  const partial = { stdout: '', stderr: '' };
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  const emit = (raw: string) => {
    const text = lastRedraw(raw.replace(/\r$/, ''));
    if (fd !== null) {
      try {
        writeSync(fd, text + '\n');
      } catch (e) {
        fail(e);
        onWriteError?.(writeError!);
      }
    }
    onLine?.(text);
  };
  return {
    get writeError() {
      return writeError;
    },
    chunk(stream, data) {
      const parts = (partial[stream] + (typeof data === 'string' ? data : decoders[stream].write(data))).split('\n');
      partial[stream] = lastRedraw(parts.pop()!);
      for (const p of parts) emit(p);
    },
    line(text) {
      emit(text.replace(/\n$/, ''));
    },
    close() {
      if (fd === null) return;
      for (const s of ['stdout', 'stderr'] as const) {
        const rest = partial[s] + decoders[s].end();
        partial[s] = '';
        if (rest !== '') emit(rest);
      }
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

function lastRedraw(s: string): string {
  const i = s.lastIndexOf('\r');
  return i < 0 ? s : s.slice(i + 1);
}

/** The last `lines` lines of a log file (reads at most the last 64 KiB). */
export function logTail(logFile: string, lines = 20): string[] {
  let fd: number;
  try {
    fd = openSync(logFile, 'r');
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    let text = buf.toString('utf8');
    if (len < size) text = text.slice(text.indexOf('\n') + 1); // drop the cut first line
    const all = text.split('\n');
    if (all[all.length - 1] === '') all.pop();
    return all.slice(-lines);
  } finally {
    closeSync(fd);
  }
}
