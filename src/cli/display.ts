// Chooses how `fisherflow run` reports progress. The renderers live in src/exec/display.ts.
import type { RunEvent } from '../run/events.js';
import { seconds } from './format.js';

export interface RunDisplay {
  handle: (e: RunEvent) => void;
  close: () => void;
}

export function createRunDisplay(mode: 'tty' | 'plain' | 'json', stream: NodeJS.WriteStream): RunDisplay {
  if (mode === 'json') return { handle: () => {}, close: () => {} };
  const w = (s: string) => stream.write(`${s}\n`);
  return {
    handle: (e) => {
      switch (e.type) {
        case 'start':
          w(`start   ${e.stage}${e.gpus.length ? ` [gpu ${e.gpus.join(',')}]` : ''}`);
          break;
        case 'end':
          w(`${e.status.padEnd(7)} ${e.stage}${e.seconds ? ` (${seconds(e.seconds)})` : ''}${e.error ? `: ${e.error}` : ''}`);
          if (e.logTail?.length) w(e.logTail.map((l) => `    | ${l}`).join('\n'));
          break;
        case 'note':
          w(`note    ${e.stage ? `${e.stage}: ` : ''}${e.message}`);
          break;
        case 'summary':
          w(`${e.ran} ran, ${e.cached} cached, ${e.failed} failed, ${e.skipped} skipped in ${seconds(e.seconds)}`);
          break;
        default:
          break;
      }
    },
    close: () => {},
  };
}
