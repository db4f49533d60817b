import {defineConfig} from 'vitest/config'

/**
 * The container tier (`npm run test:container`): builds the image with podman and runs it.
 * Needs root and scripts/container-base.sh (the npm script runs it first); not part of `npm test`.
 */
export default defineConfig({
  test: {
    include: ['test/container/**/*.test.ts'],
    // Building the image installs the dependencies from the npm registry: minutes on a busy machine.
    testTimeout: 300_000,
    hookTimeout: 1_200_000,
    fileParallelism: false,
  },
})
