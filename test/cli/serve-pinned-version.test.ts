import {once} from 'node:events'
import {afterAll, beforeAll, describe, expect, it, onTestFinished} from 'vitest'

import {linesOf, makeTempDir, runCliAsync, startCli, waitForOutput} from '../helpers/cli.js'
import {imageRows, writeTestExport} from '../serving/serving-fixtures.js'
import {SEEDS, images, predict, statusOf, versionOf} from '../serving/traffic.js'

const POLL_SECONDS = 0.2
const POLLS_TO_WAIT = 5

const temp = makeTempDir('mnist-rnn-serve-pinned-')

beforeAll(async () => {
  for (const version of [1, 2]) await writeTestExport(temp.dir, version, SEEDS[version])
})
afterAll(() => temp.cleanup())

describe('mnist-rnn serve --version N (pinned)', () => {
  it('serves that version although a higher one exists, says so, and loads no other version, old or new', async () => {
    const child = startCli(['serve', '--port', '0', '--model-dir', temp.dir, '--version', '1', '--workers', '1', '--poll-seconds', String(POLL_SECONDS)])
    onTestFinished(async () => {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    })
    const {output, match} = waitForOutput(child, /Listening on (http:\/\/127\.0\.0\.1:\d+)/)
    const url = (await match)[1]
    expect(output()).toContain(`Model mnist version 1 from ${temp.dir} (--versions specific:1; watching for changes every ${POLL_SECONDS} s)`)

    const answer = await predict(url, 0)
    expect(answer.status).toBe(200)
    expect(versionOf(answer.logits!, 0)).toBe(1)
    const body = JSON.stringify({instances: [imageRows(images, 0)]})
    const other = await fetch(`${url}/v1/models/mnist/versions/2:predict`, {method: 'POST', headers: {'content-type': 'application/json'}, body})
    expect(other.status).toBe(404)
    expect(await other.json()).toEqual({error: 'Servable not found for request: Specific(mnist, 2); available versions: 1'})

    await writeTestExport(temp.dir, 3, SEEDS[3])
    await new Promise((resolve) => setTimeout(resolve, POLLS_TO_WAIT * POLL_SECONDS * 1000))
    expect((await statusOf(url)).map((status) => [status.version, status.state])).toEqual([['1', 'AVAILABLE']])
    expect(versionOf((await predict(url, 1)).logits!, 1)).toBe(1)
  })

  it('refuses a version that is not there: exit 1 with one line', async () => {
    const missing = await runCliAsync(['serve', '--port', '0', '--model-dir', temp.dir, '--version', '7', '--workers', '1'])
    expect(missing.status).toBe(1)
    expect(linesOf(missing.stderr).filter((line) => line.startsWith('Error'))).toEqual([`Error: ${temp.dir}/7: no such version`])
    expect(missing.stderr).not.toMatch(/\bat .+\.js:\d+/)
  })
})
