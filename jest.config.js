/**
 * One jest configuration for every TypeScript suite. VM and control-plane suites are slow by
 * nature (a TCG kernel boot is seconds), so the default timeout is generous and the suites that
 * boot VMs run serially (maxWorkers) to keep two cores from thrashing.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: '<rootDir>/test/vm/jest-environment.js',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/native/build/'],
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/test-output/'],
  testTimeout: 180000,
  maxWorkers: 1,
};
