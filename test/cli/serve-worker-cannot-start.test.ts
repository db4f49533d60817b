import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {probeBackends} from '../../src/lib/backend.js'
import {linesOf, makeTempDir, runCliAsync} from '../helpers/cli.js'
import {writeTestExport} from '../serving/serving-fixtures.js'

const temp = makeTempDir('mnist-rnn-serve-no-backend-')
const nativeInstalled = (await probeBackends()).find((probe) => probe.name === 'tensorflow')!.loads

beforeAll(async () => {
  await writeTestExport(temp.dir, 1, 1)
})
afterAll(() => temp.cleanup())

describe('mnist-rnn serve with inference workers that cannot start', () => {
  it.skipIf(nativeInstalled)('--backend tensorflow without @tensorflow/tfjs-node: exit 1 with one line naming the worker and why', async () => {
    const result = await runCliAsync(['serve', '--port', '0', '--model-dir', temp.dir, '--workers', '2', '--backend', 'tensorflow'])
    expect(result.status).toBe(1)
    expect(linesOf(result.stderr)).toEqual([
      expect.stringMatching(/^Error: inference worker \d cannot start: tensorflow: the optional package @tensorflow\/tfjs-node is not installed/),
    ])
    expect(result.stdout).toBe('')
  })
})
