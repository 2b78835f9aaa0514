'use strict';
// Entry point of `npm run k8s:up` (see up-main.ts); runs the TypeScript without a build.
require('../ts-register');
require('./up-main.ts')
  .main(process.argv.slice(2))
  .catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
