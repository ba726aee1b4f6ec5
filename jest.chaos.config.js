/**
 * The chaos suite (`npm run chaos [scenario…]`): test/chaos/<scenario>.chaos.ts against built processes,
 * each printing how long the hub took to recover. JOBHUB_CHAOS=short (CI, inside `npm test`) shortens
 * every outage; full (the default) runs them at the lengths docs/operations.md quotes.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- jest reads its configuration as CommonJS
const base = require('./jest.config');

module.exports = {
  ...base,
  testMatch: ['**/test/chaos/*.chaos.ts'],
  globalSetup: '<rootDir>/test/support/chaos-setup.ts',
  globalTeardown: '<rootDir>/test/support/chaos-report.ts',
  // One scenario at a time: each one breaks a service on purpose, and two cores time recoveries badly when shared.
  maxWorkers: 1,
  testTimeout: 600_000,
};
