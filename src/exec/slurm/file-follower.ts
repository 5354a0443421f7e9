// Reading files that a job on another machine writes to the shared filesystem: the new whole
// lines of its log since the last look (for the live display), and small JSON files (its
// progress, its result) that are replaced atomically and so are either whole or absent.
//
// Public surface:
//   new LogFollower(file).read(): string[]      complete lines appended since the last read
//   readJsonFile<T>(file): T | undefined         undefined when missing or not (yet) valid JSON
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

export class LogFollower {
  private offset = 0;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');
  constructor(private readonly file: string) {}

  read(): string[] {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return [];
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) this.offset = 0; // replaced (a new attempt): start over
      const chunks: string[] = [];
      const buf = Buffer.alloc(64 * 1024);
      while (this.offset < size) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, size - this.offset), this.offset);
        if (n <= 0) break;
        this.offset += n;
        chunks.push(this.decoder.write(buf.subarray(0, n)));
      }
      const parts = (this.partial + chunks.join('')).split('\n');
      this.partial = parts.pop()!;
      return parts;
    } finally {
      closeSync(fd);
    }
  }
}

export function readJsonFile<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
