import {cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {SERVE_DEFAULTS} from '../../src/lib/serving/options.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {makeTempDir} from '../helpers/cli.js'
import {recordingLog} from '../helpers/serving-log.js'
import {writeTestExport} from './serving-fixtures.js'
import {SEEDS, predict, statusOf, until, versionOf} from './traffic.js'

const POLL_SECONDS = 0.2

// Each test serves its own model directory: nothing depends on what an earlier test published.
let server: RunningServer | undefined
let temp: ReturnType<typeof makeTempDir> | undefined
afterEach(async () => {
  await server?.shutdown()
  temp?.cleanup()
  server = temp = undefined
})

async function serving(version: number) {
  temp = makeTempDir('mnist-rnn-refusals-')
  await writeTestExport(temp.dir, version, SEEDS[version])
  const recorded = recordingLog()
  server = await startServer({...SERVE_DEFAULTS, port: 0, modelDir: temp.dir, workers: 1, pollSeconds: POLL_SECONDS, backend: 'wasm'}, recorded.log)
  return {dir: temp.dir, url: server.url, lines: recorded.lines}
}

describe('versions the server refuses, over real HTTP', () => {
  it('a corrupt new version is refused and logged; the old one keeps serving; temporary folders are ignored', async () => {
    const {dir, url, lines} = await serving(2)
    mkdirSync(join(dir, '.tmp-export-99999-abc'))
    writeFileSync(join(dir, '.tmp-export-99999-abc', 'model.json'), '{')
    const staging = join(dir, '.staging-3')
    cpSync(join(dir, '2'), staging, {recursive: true})
    const weights = readFileSync(join(staging, 'weights.bin'))
    weights[weights.length - 1] ^= 0xff
    writeFileSync(join(staging, 'weights.bin'), weights)
    renameSync(staging, join(dir, '3'))

    await until(async () => (await statusOf(url)).some((status) => status.version === '3'), 'version 3 to be tried')
    const statuses = await statusOf(url)
    expect(statuses.map((status) => [status.version, status.state])).toEqual([
      ['3', 'END'],
      ['2', 'AVAILABLE'],
    ])
    expect(statuses[0].status.error_message).toMatch(/^weights\.bin fails its recorded sha256/)
    expect(lines.find((line) => line.startsWith('version 3 of mnist refused'))).toMatch(/weights\.bin fails its recorded sha256.*; still serving version 2$/)
    const answer = await predict(url, 5)
    expect(answer.status).toBe(200)
    expect(versionOf(answer.logits!, 5)).toBe(2)
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({version: 2})
  })

  it('an incomplete version folder is refused until its files are complete, then served', async () => {
    const {dir, url} = await serving(1)
    const complete = join(dir, '.complete-2')
    await writeTestExport(complete, 2, SEEDS[2])
    mkdirSync(join(dir, '2'))
    for (const name of ['model.json', 'signature.json']) cpSync(join(complete, '2', name), join(dir, '2', name))
    await until(async () => (await statusOf(url)).some((status) => status.version === '2'), 'version 2 to be tried')
    expect((await statusOf(url))[0].status.error_message).toMatch(/missing weights\.bin \(incomplete export\)/)

    cpSync(join(complete, '2'), join(dir, '2'), {recursive: true})
    await until(async () => (await statusOf(url))[0].state === 'AVAILABLE', 'version 2 to be served')
    const answer = await predict(url, 3)
    expect(versionOf(answer.logits!, 3)).toBe(2)
    rmSync(complete, {recursive: true, force: true})
  })
})
