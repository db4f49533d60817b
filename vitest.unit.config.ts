import {defineConfig, mergeConfig} from 'vitest/config'

import base, {END_TO_END_TESTS} from './vitest.config.js'

/**
 * `npm run test:unit`: the library tests, with fakes where a test needs a worker, an engine or a
 * clock; no CLI processes, no servers on ports (the guard makes sure), under a minute.
 */
export default mergeConfig(
  base,
  defineConfig({
    test: {
      exclude: END_TO_END_TESTS,
      setupFiles: ['test/helpers/unit-tier-guard.ts'],
    },
  }),
)
