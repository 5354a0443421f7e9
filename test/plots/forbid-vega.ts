// Loaded with `node --import` into a CLI process: any import of vega or vega-lite fails loudly.
// The plots test uses it to check that `status` and `run` never load the charting library.
import { register } from 'node:module';

const hooks = `export async function resolve(specifier, context, next) {
  if (/^vega(-lite)?($|\\/)/.test(specifier)) throw new Error('vega was imported: ' + specifier);
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
