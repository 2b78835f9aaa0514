'use strict';
// Lets plain `node` load the tests' TypeScript helpers (the VM harness, the control plane) without
// a build step, by transpiling .ts files as they are required. Type checking is the job of
// `npm run typecheck` and jest, not of this hook.
const ts = require('typescript');
const fs = require('node:fs');

if (!require.extensions['.ts']) {
  require.extensions['.ts'] = (module, filename) => {
    const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        resolveJsonModule: true,
      },
      fileName: filename,
    });
    module._compile(outputText, filename);
  };
}
