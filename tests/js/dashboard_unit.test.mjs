// dashboard_unit.test.mjs — the dashboard's pure modules (format.js,
// state.js, throttle.js) under node:test: runs every tests/js/unit/*.test.mjs
// (each also runs alone: node --test tests/js/unit/), prints TAP, and ends
// with the summary line scripts/run-tests reads.
import fs from 'node:fs';
import path from 'node:path';
import { run } from 'node:test';
import { tap } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';

const FILE = 'dashboard_unit.test.mjs';
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'unit');
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.test.mjs'))
  .sort()
  .map((f) => path.join(dir, f));

let passed = 0;
let failed = 0;
// Every case counts (a describe() block's own event does not); a file that
// does not load is one failure of its own.
const stream = run({ files, timeout: 60000, concurrency: 1 });
stream.on('test:pass', (d) => {
  if (d.details?.type !== 'suite') passed++;
});
stream.on('test:fail', (d) => {
  if (d.details?.type !== 'suite') failed++;
});
const out = stream.compose(tap);
out.pipe(process.stdout, { end: false });
out.on('end', () => {
  if (passed + failed === 0) failed++; // nothing ran: not a pass
  console.log(`# ${FILE}: ${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
});
