#!/usr/bin/env node
'use strict';
// Launcher of rewind-controller (controller/main.ts, compiled by `npm run build:ts`).
const path = require('node:path');

let controller;
try {
  controller = require(path.join(__dirname, '..', '..', 'dist', 'controller', 'main.js'));
} catch (e) {
  process.stderr.write(
    `rewind-controller: not built (${e.message}); run \`npm run build:ts && npm run build:native\`\n`,
  );
  process.exit(2);
}
void controller.main(process.argv.slice(2), process.env);
