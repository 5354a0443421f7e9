// Ctrl-C and SIGTERM for commands that run stages: the first signal aborts (running stages are
// stopped, the run winds down and exits 130); a second one exits at once.
export interface Interrupt {
  signal: AbortSignal;
  /** Stop listening (call when the run is over). */
  dispose(): void;
}

export function onInterrupt(opts: { quiet?: boolean } = {}): Interrupt {
  const ac = new AbortController();
  const onSig = () => {
    if (ac.signal.aborted) process.exit(130);
    if (!opts.quiet) process.stderr.write('\nfisherflow: interrupted; stopping running stages (Ctrl-C again to force)\n');
    ac.abort();
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
    },
  };
}
