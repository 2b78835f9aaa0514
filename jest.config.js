const { laneConfig } = require('./test/lanes.js');

/**
 * One jest configuration for every TypeScript suite. VM and control-plane suites are slow by
 * nature (a TCG kernel boot is seconds), so the default timeout is generous and suites run one at
 * a time (maxWorkers) to keep two cores from thrashing. `npm test` runs it as lanes, two at a time
 * side by side: the VM suites, the rest, then the late VM suites (REWIND_TEST_LANE=vm|host|vm-late;
 * the lists are in test/lanes.js).
 * @type {import('jest').Config}
 */
const config = {
  testEnvironment: '<rootDir>/test/vm/jest-environment.js',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    // @kubernetes/client-node and a few of its dependencies ship only ES modules; jest (on Node
    // 20) loads CommonJS, so those files are compiled to CommonJS like our own. The built
    // controller needs none of this: Node 20.19+ require()s ES modules itself.
    '^.+\\.m?js$': [
      'ts-jest',
      {
        tsconfig: {
          allowJs: true,
          module: 'commonjs',
          target: 'ES2022',
          esModuleInterop: true,
          isolatedModules: true,
        },
      },
    ],
  },
  transformIgnorePatterns: [
    '/node_modules/(?!(@kubernetes/client-node|openid-client|jose|oauth4webapi|socks-proxy-agent|agent-base|jsonpath-plus|hpagent|p-limit|yocto-queue)/)',
  ],
  testMatch: ['<rootDir>/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/native/build/'],
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/test-output/'],
  testTimeout: 180000,
  maxWorkers: 1,
};

module.exports = laneConfig(config, process.env.REWIND_TEST_LANE);
