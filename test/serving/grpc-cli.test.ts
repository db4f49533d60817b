import * as grpc from '@grpc/grpc-js'
import {once} from 'node:events'
import {createInterface} from 'node:readline'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {GrpcServingClient} from '../../src/lib/serving/grpc-client.js'
import {makeTempDir, runCli, startCli} from '../helpers/cli.js'
import {mnistTestImages, referenceLogits, writeTestExport} from './serving-fixtures.js'

const SEED = 3
const IMAGE_COUNT = 3

let exportDir: {dir: string; cleanup: () => void}

beforeAll(async () => {
  exportDir = makeTempDir('mnist-rnn-grpc-cli-')
  await writeTestExport(exportDir.dir, 1, SEED)
})

afterAll(() => exportDir?.cleanup())

describe('mnist-rnn serve --grpc-port', () => {
  it('serves TF Serving\'s gRPC API beside REST, announces its address, and drains on SIGTERM', async () => {
    const child = startCli(['serve', '--model-dir', exportDir.dir, '--port', '0', '--grpc-port', '0', '--workers', '1', '--json'])
    const exited = once(child, 'exit')
    let stderr = ''
    child.stderr!.on('data', (chunk) => (stderr += chunk))
    try {
      let listening: {frontends: {name: string; address: string}[]} | undefined
      for await (const line of createInterface({input: child.stdout!})) {
        const event = JSON.parse(line)
        if (event.event === 'listening') {
          listening = event
          break
        }
      }
      expect(listening, stderr).toBeDefined()
      expect(listening!.frontends).toHaveLength(1)
      expect(listening!.frontends[0].name).toBe('gRPC')
      expect(listening!.frontends[0].address).toMatch(/^127\.0\.0\.1:\d+$/)

      const {images} = mnistTestImages(IMAGE_COUNT)
      const client = new GrpcServingClient(listening!.frontends[0].address)
      try {
        const answer = await client.predict(images, IMAGE_COUNT, {encoding: 'tensor_content'})
        expect(answer.version).toBe(1)
        const expected = referenceLogits(SEED, images)
        for (let i = 0; i < expected.length; i++) expect(answer.logits[i]).toBeCloseTo(expected[i], 5)
        expect((await client.status())[0]).toEqual({version: 1, state: 'AVAILABLE', errorMessage: ''})
      } finally {
        client.close()
      }
    } finally {
      child.kill('SIGTERM')
    }
    const [code] = await exited
    expect(code, stderr).toBe(0)
  })

  it('refuses a port out of range without starting', () => {
    const result = runCli(['serve', '--model-dir', exportDir.dir, '--grpc-port', '70000'])
    expect(result.status).not.toBe(0)
    expect(result.stderr).toMatch(/--grpc-port/)
    expect(result.stderr).toMatch(/65535/)
  })

  it('says which address it cannot bind when the gRPC port is taken, and exits 1', async () => {
    const taken = new grpc.Server()
    const port = await new Promise<number>((resolve, reject) =>
      taken.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    )
    try {
      const result = runCli(['serve', '--model-dir', exportDir.dir, '--port', '0', '--grpc-port', String(port), '--workers', '1'])
      expect(result.status).toBe(1)
      expect(result.stderr).toMatch(new RegExp(`Error: cannot serve gRPC on 127\\.0\\.0\\.1:${port}: `))
      expect(result.stderr).not.toMatch(/\n\s+at /)
    } finally {
      taken.forceShutdown()
    }
  })
})
