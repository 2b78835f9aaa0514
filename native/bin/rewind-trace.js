#!/usr/bin/env node
'use strict';
// Launcher of the rewind-trace CLI (native/cli.ts, compiled by `npm run build:ts`).
const path = require('node:path');

let cli;
try {
  cli = require(path.join(__dirname, '..', '..', 'dist', 'native', 'cli.js'));
} catch (e) {
  process.stderr.write(
    `rewind-trace: not built (${e.message}); run \`npm run build:ts && npm run build:native\`\n`,
  );
  process.exit(2);
}
cli.main(process.argv).then((code) => process.exit(code));
