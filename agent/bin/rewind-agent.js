#!/usr/bin/env node
'use strict';
// Launcher of rewind-agent (agent/main.ts, compiled by `npm run build:ts`).
const path = require('node:path');

let agent;
try {
  agent = require(path.join(__dirname, '..', '..', 'dist', 'agent', 'main.js'));
} catch (e) {
  process.stderr.write(
    `rewind-agent: not built (${e.message}); run \`npm run build:ts && npm run build:native\`\n`,
  );
  process.exit(2);
}
void agent.main(process.argv.slice(2), process.env);
