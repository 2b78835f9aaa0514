#!/usr/bin/env node
'use strict';
// Launcher of kubectl-rewind (kubectl-rewind/main.ts, compiled by `npm run build:ts`). kubectl
// runs any `kubectl-rewind` on PATH as `kubectl rewind`.
const path = require('node:path');

let cli;
try {
  cli = require(path.join(__dirname, '..', '..', 'dist', 'kubectl-rewind', 'main.js'));
} catch (e) {
  process.stderr.write(`kubectl-rewind: not built (${e.message}); run \`npm run build:ts\`\n`);
  process.exit(1);
}
void cli.main(process.argv.slice(2)).then((code) => {
  // Leave once the output is written: idle keep-alive sockets must not hold the process.
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
});
