/** Real MariaDB and Redis: see test/support/. Two cores, so two workers. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    // ESM-only dependencies of fastify's inject and the dashboard's static files: Node loads them natively, jest needs it as CommonJS.
    '/node_modules/(content-disposition|cookie)/.+\\.js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', target: 'es2022', isolatedModules: true, sourceMap: false } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(content-disposition|cookie)/)'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  setupFilesAfterEnv: ['<rootDir>/test/support/leak-guard.ts'],
  maxWorkers: 2,
  testTimeout: 30_000,
  verbose: true,
};
