import {configDefaults, defineConfig} from 'vitest/config'

/**
 * The end-to-end tier: tests that start the CLI or other processes, or listen on ports (servers,
 * gRPC, HTTP). `npm test` runs them with everything else; `npm run test:unit` leaves them out
 * (vitest.unit.config.ts), and its guard fails any other test that tries to.
 */
export const END_TO_END_TESTS = [
  'test/cli/**',
  'test/install/**',
  // Directly in test/serving: real servers. Its subfolders (core, inference, rest, grpc) are unit tests.
  'test/serving/*.test.ts',
  'test/export/stock-loader-over-http.test.ts',
  'test/export/permissions.test.ts',
  'test/model/wasm-threads.test.ts',
  'test/deploy/**',
  'test/ui/drawing-page.test.ts',
  'test/training/tensorboard.test.ts',
]

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The container tier has its own config and command (npm run test:container).
    exclude: [
      ...configDefaults.exclude,
      'test/container/**',
    ],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two files at a time: most end-to-end tests wait on child processes and sockets, so one core
    // would idle with one file (measured on 2 quiet cores: 6 min in two, 8 min 40 s one at a time).
    fileParallelism: true,
    maxWorkers: 2,
  },
})
