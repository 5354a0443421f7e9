// The test reporter of `npm test`: Node's own (spec on a terminal, TAP otherwise), except that
// what a test file prints outside its tests' reports — a Vulkan driver's or Dawn's warnings on
// stderr, a library's console banner, a stage's console.log in an in-process run — is held back
// and shown only for a file one of whose tests fails, where it may explain the failure. Tests'
// own diagnostics (t.diagnostic: figures such as a bundle's build time) are reports, and pass.
import { Readable } from 'node:stream';
import { spec as Spec, tap } from 'node:test/reporters';

/** The events with each file's stray output held until that file has a failure. */
async function* quiet(source) {
  const held = new Map(); // file → its held stdout/stderr events
  const failed = new Set();
  for await (const event of source) {
    const file = event.data?.file ?? '';
    if (event.type === 'test:stdout' || event.type === 'test:stderr') {
      if (failed.has(file)) yield event;
      else held.set(file, [...(held.get(file) ?? []), event]);
      continue;
    }
    if (event.type === 'test:fail' && !failed.has(file)) {
      failed.add(file);
      yield* held.get(file) ?? [];
      held.delete(file);
    }
    yield event;
  }
}

export default async function* reporter(source) {
  // spec is a Transform stream of events, tap a generator over them.
  if (process.stdout.isTTY) yield* Readable.from(quiet(source)).pipe(new Spec());
  else yield* tap(quiet(source));
}
