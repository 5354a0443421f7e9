// Where each character of a shell command stands: outside quotes, inside '...' or inside "...".
// The DVC importer uses it to decide how a substituted value must be written so that bash reads
// it as DVC's text pasting would have.

export type QuoteState = 'word' | 'single' | 'double';

/** The quoting state at every offset of `cmd` (the state a character at that offset is read in). */
export function quoteStates(cmd: string): QuoteState[] {
  const out: QuoteState[] = new Array(cmd.length + 1);
  let state: QuoteState = 'word';
  for (let i = 0; i < cmd.length; i++) {
    out[i] = state;
    const c = cmd[i];
    if (state === 'single') {
      if (c === "'") state = 'word';
    } else if (c === '\\') {
      out[i + 1] = state;
      i++;
    } else if (state === 'double') {
      if (c === '"') state = 'word';
    } else if (c === "'") state = 'single';
    else if (c === '"') state = 'double';
  }
  out[cmd.length] = state;
  return out;
}
