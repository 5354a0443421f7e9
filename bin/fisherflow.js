#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm install` through the prepare script).
// `fisherflow exec-stage JOB.json`, what every batch job runs, skips loading the other commands.
const a = process.argv;
const entry = a.length === 4 && a[2] === 'exec-stage' && !a[3].startsWith('-') ? 'exec-stage-main.js' : 'main.js';
import(`../dist/src/cli/${entry}`)
  .then((m) => m.main(process.argv))
  .catch((err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(`dist/src/cli/${entry}`)) {
      console.error('fisherflow: not built yet; run `npm install` (or `npm run build`) in the fisherflow folder');
    } else {
      console.error(err && err.stack ? err.stack : String(err));
    }
    process.exit(2);
  });
