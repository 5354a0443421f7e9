// Ctrl-C, SIGTERM and SIGHUP for commands that run stages: the first signal aborts (running
// stages are stopped, the run winds down and exits 130); a second one SIGKILLs every stage
// process group at once and exits 130. SIGHUP (the terminal closed) is a Ctrl-C too: without a
// handler it would kill the engine and leave the run's lock behind.
import { killRunningStageGroups } from '../exec/process-tree.js';

export interface Interrupt {
  signal: AbortSignal;
  /** Stop listening (call when the run is over). */
  dispose(): void;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export function onInterrupt(opts: { quiet?: boolean } = {}): Interrupt {
  const ac = new AbortController();
  const onSig = () => {
    if (ac.signal.aborted) {
      killRunningStageGroups();
      process.exit(130);
    }
    if (!opts.quiet) process.stderr.write('\nfisherflow: interrupted; stopping running stages (Ctrl-C again to force)\n');
    ac.abort();
  };
  for (const s of SIGNALS) process.on(s, onSig);
  return {
    signal: ac.signal,
    dispose: () => {
      for (const s of SIGNALS) process.off(s, onSig);
    },
  };
}
