import {once} from 'node:events'
import {afterAll, beforeAll, describe, expect, it, onTestFinished} from 'vitest'

import {probeBackends} from '../../src/lib/backend.js'
import {linesOf, makeTempDir, startCli} from '../helpers/cli.js'
import {writeTestExport} from '../serving/serving-fixtures.js'

const temp = makeTempDir('mnist-rnn-serve-no-backend-')
const nativeInstalled = (await probeBackends()).find((probe) => probe.name === 'tensorflow')!.loads

beforeAll(async () => {
  await writeTestExport(temp.dir, 1, 1)
})
afterAll(() => temp.cleanup())

describe('mnist-rnn serve with inference workers that cannot start', () => {
  it.skipIf(nativeInstalled)('--engine tfjs --backend tensorflow without @tensorflow/tfjs-node: exit 1 with one line naming the worker and why', async () => {
    const child = startCli(['serve', '--port', '0', '--model-dir', temp.dir, '--workers', '2', '--engine', 'tfjs', '--backend', 'tensorflow'])
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    // Should it start after all, it must not outlive the test (a timeout included).
    onTestFinished(() => void (child.exitCode === null && child.kill('SIGKILL')))
    const [status] = await once(child, 'close')
    expect(status).toBe(1)
    expect(linesOf(stderr)).toEqual([
      expect.stringMatching(/^Error: inference worker \d cannot start: tensorflow: the optional package @tensorflow\/tfjs-node is not installed/),
    ])
    expect(stdout).toBe('')
  })
})
