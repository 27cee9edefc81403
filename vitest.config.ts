import { defineConfig } from 'vitest/config';

// One config for the whole workspace. Packages run their own tests with `vitest run --root ../.. <their folder>`.
export default defineConfig({
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'plugins/*/src/**/*.test.ts',
      'examples/*/src/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
