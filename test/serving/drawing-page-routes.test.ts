import {copyFileSync, readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {loadMnistSplit} from '../../src/lib/data/mnist.js'
import {startupInfo, startupLines} from '../../src/lib/serving/banner.js'
import {SERVE_DEFAULTS, ServeOptions} from '../../src/lib/serving/options.js'
import {CONTENT_SECURITY_POLICY} from '../../src/lib/serving/rest/ui.js'
import {RunningServer, startServer} from '../../src/lib/serving/server.js'
import {ServingLog} from '../../src/lib/serving/api.js'
import {makeTempDir} from '../helpers/cli.js'
import {imageFlat, mnistTestImages, writeTestExport} from './serving-fixtures.js'

const SEED = 3
const VERSION = 2
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'
const TEST_IMAGE_INDEX = 7
const TEST_SET_SIZE = 10_000

const quiet: ServingLog = {info: () => {}, warn: () => {}, error: () => {}}
const temp = makeTempDir('mnist-rnn-ui-routes-')
const versionDir = join(temp.dir, String(VERSION))
let options: ServeOptions
let withPage: RunningServer
let apiOnly: RunningServer

beforeAll(async () => {
  await writeTestExport(temp.dir, VERSION, SEED)
  options = {...SERVE_DEFAULTS, port: 0, modelDir: temp.dir, workers: 1, backend: 'wasm'}
  withPage = await startServer(options, quiet)
  apiOnly = await startServer({...options, ui: false}, quiet)
})

afterAll(async () => {
  await Promise.all([withPage?.shutdown(), apiOnly?.shutdown()])
  temp.cleanup()
})

function get(server: RunningServer, path: string, accept?: string, method = 'GET') {
  return fetch(`${server.url}${path}`, {method, headers: accept === undefined ? {} : {accept}})
}

function expectLockedDown(response: Response): void {
  expect(response.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY)
  expect(response.headers.get('x-content-type-options')).toBe('nosniff')
}

describe('GET / : the drawing page for browsers, the Flask contract for everyone else', () => {
  it('answers a browser (Accept: text/html) with the page, locked down by a strict Content-Security-Policy', async () => {
    const response = await get(withPage, '/', BROWSER_ACCEPT)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expectLockedDown(response)
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'")
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self';")
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-(inline|eval)|https?:|\*/)
    const html = await response.text()
    expect(html).toContain('<script type="module" src="/ui/app.js"></script>')
    // Nothing inline for the policy to forbid: no script bodies, no style attributes or elements.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
    expect(html).not.toMatch(/\sstyle=|<style|\son[a-z]+=/)
    expect(html).not.toMatch(/https?:\/\//)

    const head = await get(withPage, '/', 'text/html', 'HEAD')
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
  })

  it('keeps answering GET / without text/html as before: 405, use POST', async () => {
    for (const accept of [undefined, '*/*', 'application/json', 'text/html;q=0, application/json']) {
      const response = await get(withPage, '/', accept)
      expect(response.status, `Accept: ${accept}`).toBe(405)
      expect(response.headers.get('allow')).toBe('POST')
      expect(await response.json()).toEqual({error: 'Method GET is not allowed on / (use POST)'})
    }
  })

  it("keeps POST / (the seed's Flask contract) whatever the Accept header says", async () => {
    const {images} = mnistTestImages(1)
    const response = await fetch(`${withPage.url}/`, {
      method: 'POST',
      headers: {'content-type': 'application/json', accept: BROWSER_ACCEPT},
      body: JSON.stringify({data: imageFlat(images, 0)}),
    })
    expect(response.status).toBe(200)
    const {y} = (await response.json()) as {y: number[][]}
    expect(y[0]).toHaveLength(10)
    expect(y[0].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5)
  })

  it('serves every file the page loads from the server itself, with its type, the policy and nosniff', async () => {
    const html = await (await get(withPage, '/', 'text/html')).text()
    const app = await (await get(withPage, '/ui/app.js')).text()
    const browserModel = await (await get(withPage, '/ui/browser-model.js')).text()
    const referenced = new Set<string>()
    for (const match of html.matchAll(/(?:src|href)="([^"]+)"/g)) referenced.add(match[1])
    for (const match of app.matchAll(/from '\.\/([^']+)'/g)) referenced.add(`/ui/${match[1]}`)
    const bundle = /TFJS_BUNDLE = '([^']+)'/.exec(browserModel)![1]
    referenced.add(bundle)
    expect([...referenced].sort()).toEqual([
      '/ui/app.js',
      '/ui/browser-model.js',
      '/ui/favicon.svg',
      '/ui/preprocess.js',
      '/ui/server-api.js',
      '/ui/style.css',
      '/ui/vendor/tf.es2017.min.js',
    ])
    const types: Record<string, string> = {js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml'}
    for (const path of referenced) {
      const response = await get(withPage, path)
      expect(response.status, path).toBe(200)
      expect(response.headers.get('content-type'), path).toBe(types[path.split('.').pop()!])
      expectLockedDown(response)
    }
    // TensorFlow.js is the installed package's own browser bundle, byte for byte.
    const installed = readFileSync(createRequire(import.meta.url).resolve('@tensorflow/tfjs/dist/tf.es2017.min.js'))
    expect(Buffer.from(await (await get(withPage, bundle)).arrayBuffer()).equals(installed)).toBe(true)
  })

  it("serves the served version's model.json and weights.bin read-only, as exported, and nothing else", async () => {
    for (const file of ['model.json', 'weights.bin']) {
      const response = await get(withPage, `/ui/model/${VERSION}/${file}`)
      expect(response.status, file).toBe(200)
      expectLockedDown(response)
      expect(Buffer.from(await response.arrayBuffer()).equals(readFileSync(join(versionDir, file))), file).toBe(true)
    }
    const refused = [
      `/ui/model/${VERSION + 1}/model.json`,
      `/ui/model/0${VERSION}/model.json`,
      `/ui/model/${VERSION}/signature.json`,
      `/ui/model/${VERSION}/..%2F..%2Fpackage.json`,
      '/ui/../package.json',
      '/ui/nothing.js',
    ]
    for (const path of refused) expect((await get(withPage, path)).status, path).toBe(404)
    const post = await fetch(`${withPage.url}/ui/model/${VERSION}/model.json`, {method: 'POST'})
    expect(post.status).toBe(405)
  })

  it('refuses a model file that changed on disk since the version was verified (409), rather than hand the browser other weights', async () => {
    const weights = join(versionDir, 'weights.bin')
    copyFileSync(weights, `${weights}.orig`)
    try {
      const bytes = readFileSync(weights)
      bytes[0] ^= 0xff
      writeFileSync(weights, bytes)
      const response = await get(withPage, `/ui/model/${VERSION}/weights.bin`)
      expect(response.status).toBe(409)
      expect(await response.json()).toEqual({error: 'weights.bin no longer matches the sha256 recorded when the version was exported'})
    } finally {
      copyFileSync(`${weights}.orig`, weights)
    }
  })

  it('tells the page the model name and the engine, and hands out MNIST test images with their labels', async () => {
    expect(await (await get(withPage, '/ui/api/info')).json()).toEqual({model: 'mnist', engine: 'ONNX Runtime, 1 intra-op thread'})

    const test = loadMnistSplit('test', undefined, TEST_IMAGE_INDEX + 1)
    const chosen = (await (await get(withPage, `/ui/api/test-image?index=${TEST_IMAGE_INDEX}`)).json()) as {index: number; label: number; pixels: number[]}
    expect(chosen.index).toBe(TEST_IMAGE_INDEX)
    expect(chosen.label).toBe(test.labels[TEST_IMAGE_INDEX])
    expect(Float32Array.from(chosen.pixels)).toEqual(test.images.subarray(TEST_IMAGE_INDEX * 784, (TEST_IMAGE_INDEX + 1) * 784))

    const random = (await (await get(withPage, '/ui/api/test-image')).json()) as {index: number; label: number; pixels: number[]}
    expect(random.index).toBeGreaterThanOrEqual(0)
    expect(random.index).toBeLessThan(TEST_SET_SIZE)
    expect(random.pixels).toHaveLength(784)

    for (const index of [String(TEST_SET_SIZE), '-1', '1.5', 'x']) {
      const response = await get(withPage, `/ui/api/test-image?index=${index}`)
      expect(response.status, index).toBe(400)
      expect(((await response.json()) as {error: string}).error).toMatch(/^index must be a whole number from 0 to 9999/)
    }
  })

  it('prints the page URL in the start-up banner (and in --json)', () => {
    expect(startupLines(withPage, options)).toContain(`Drawing page: open ${withPage.url}/ in a browser`)
    expect(startupInfo(withPage, options).page).toBe(`${withPage.url}/`)
  })
})

describe('--no-ui', () => {
  it('turns the page and its files off (404) and leaves the API as it was', async () => {
    const page = await get(apiOnly, '/', BROWSER_ACCEPT)
    expect(page.status).toBe(404)
    expect(await page.json()).toEqual({error: 'Malformed request: GET /'})
    for (const path of ['/ui/app.js', '/ui/vendor/tf.es2017.min.js', '/ui/api/info', '/ui/api/test-image', `/ui/model/${VERSION}/model.json`]) {
      expect((await get(apiOnly, path)).status, path).toBe(404)
    }
    expect((await get(apiOnly, '/')).status).toBe(405)
    expect((await get(apiOnly, '/v1/models/mnist')).status).toBe(200)
    const {images} = mnistTestImages(1)
    const flask = await fetch(`${apiOnly.url}/`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({data: imageFlat(images, 0)})})
    expect(flask.status).toBe(200)
    const lines = startupLines(apiOnly, {...options, ui: false})
    expect(lines.some((line) => line.includes('Drawing page'))).toBe(false)
  })
})
