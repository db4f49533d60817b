import {configDefaults, defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The container tier has its own config and command (npm run test:container).
    exclude: [...configDefaults.exclude, 'test/container/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: tests that train or serve models compete for them, so files run one at a time.
    fileParallelism: false,
  },
})
