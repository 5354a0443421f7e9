// Chooses how `fisherflow run` reports progress; the renderers live in src/exec/display.ts.
import { createDisplay, type Display, type DisplayMode } from '../exec/display.js';
import type { RunEvent } from '../run/events.js';

export interface RunDisplay {
  handle: (e: RunEvent) => void;
  close: () => void;
}

export function createRunDisplay(mode: DisplayMode, stream: NodeJS.WriteStream): RunDisplay {
  const d: Display = createDisplay({ mode, stream });
  return { handle: (e) => d.handle(e), close: () => d.close() };
}
