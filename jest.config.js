/** Real MariaDB and Redis: see test/support/. Two cores, so two workers. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  setupFilesAfterEnv: ['<rootDir>/test/support/leak-guard.ts'],
  maxWorkers: 2,
  testTimeout: 30_000,
  verbose: true,
};
