#!/usr/bin/env node
'use strict';
// `npm run demo [-- --quick]`: the end-to-end scenario for a person (test/scenario/demo-main.ts),
// run from the tests' TypeScript without a build step; the programs it runs are the built ones.
require('../test/ts-register');
require('../test/scenario/demo-main.ts').main();
