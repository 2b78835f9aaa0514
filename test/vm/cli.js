'use strict';
// Entry point of `npm run vm` (see cli-main.ts); runs the harness's TypeScript without a build.
require('../ts-register');
require('./cli-main.ts').runCli();
