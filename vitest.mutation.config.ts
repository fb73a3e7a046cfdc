import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

// Mutation testing (`npm run mutation`) reruns tests for every mutant, so it runs only the tests
// that exercise what it mutates (shared/outbox, shared/runtime), not the CLI, synth or bundle tests.
export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: ['test/outbox/**/*.test.ts', 'test/runtime/**/*.test.ts', 'test/operate/**/*.test.ts', 'test/safety/**/*.test.ts'],
    },
  }),
);
