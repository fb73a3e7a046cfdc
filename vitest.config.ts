import { defineConfig } from 'vitest/config';

// CHORES_RED_FIXTURE=1 runs only the deliberately failing fixture, which .ci/run uses to prove
// that a red test makes `npm test` exit non-zero.
const redFixture = process.env.CHORES_RED_FIXTURE === '1';

export default defineConfig({
  test: {
    include: redFixture ? ['test/fixtures/red-test.fixture.ts'] : ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Forks, not threads: pg and embedded Postgres hold sockets and child processes that
    // are simpler to reason about per process. Two workers match the two cores; Postgres
    // itself needs the rest.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // A test that needs longer than this says so, with its reason. 10 s leaves room for the
    // 2-core machine's noise; a healthy test here takes well under a second.
    testTimeout: 10_000,
    hookTimeout: 30_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
