/**
 * One jest configuration for every TypeScript suite. VM and control-plane suites are slow by
 * nature (a TCG kernel boot is seconds), so the default timeout is generous and the suites that
 * boot VMs run serially (maxWorkers) to keep two cores from thrashing.
 * @type {import('jest').Config}
 */
module.exports = {
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
