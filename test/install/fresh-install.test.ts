import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {REPO_ROOT, makeTempDir} from '../helpers/cli.js'

/**
 * The slow, opt-in tier (MNIST_RNN_INSTALL_TESTS=1; CI sets it): a fresh clone of this repository
 * installs with dependency install scripts run and skipped, and onnxruntime-node then loads and runs
 * model.onnx. The hazard it guards against: onnxruntime-node's postinstall downloads CUDA parts from
 * api.nuget.org on linux/x64 (fatal without internet) unless the project's .npmrc says
 * `onnxruntime-node-install=skip`. npm 10 runs dependency install scripts by default; npm 11.19+
 * skips those not approved in package.json's allowScripts unless --dangerously-allow-all-scripts.
 * Each install and its library tests take one to several minutes (registry round trips; the npm cache helps).
 */
const ENABLED = process.env.MNIST_RNN_INSTALL_TESTS === '1'
const INSTALL_TIMEOUT_MS = 15 * 60_000
const ORT_CUDA_PROVIDER = join('node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime_providers_cuda.so')
const ORT_POSTINSTALL = /npm info run onnxruntime-node@[\d.]+ postinstall \{ code: (\d+)/

interface Run {
  status: number | null
  output: string
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  // Without the override the test would pass because of the environment, not because of .npmrc.
  const base = {...process.env, ...env}
  delete base.ONNXRUNTIME_NODE_INSTALL
  delete base.npm_config_onnxruntime_node_install
  delete base.MNIST_RNN_INSTALL_TESTS
  const child = spawn(command, args, {cwd, env: base, stdio: ['ignore', 'pipe', 'pipe']})
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (status) => resolve({status, output}))
  })
}

const INSTALLS = [
  {name: 'npm 10 (runs install scripts)', command: 'npx', args: ['-y', 'npm@10', 'ci'], scriptsRun: true},
  {name: "today's npm, dependency scripts skipped by default", command: 'npm', args: ['ci'], scriptsRun: false},
  {name: "today's npm with --dangerously-allow-all-scripts", command: 'npm', args: ['ci', '--dangerously-allow-all-scripts'], scriptsRun: true},
]

describe.skipIf(!ENABLED)('a fresh clone installs without onnxruntime-node downloading anything', () => {
  const temp = makeTempDir('mnist-rnn-install-')
  afterAll(() => temp.cleanup())

  for (const [index, install] of INSTALLS.entries()) {
    it(
      `${install.name}: npm ci succeeds, ORT's postinstall ${install.scriptsRun ? 'runs and skips its CUDA download' : 'does not run'}, the library tests pass (ONNX Runtime runs model.onnx)`,
      async () => {
        const clone = join(temp.dir, `clone-${index}`)
        expect((await run('git', ['clone', '--quiet', REPO_ROOT, clone], temp.dir)).status).toBe(0)
        const installed = await run(install.command, [...install.args, '--no-audit', '--no-fund', '--foreground-scripts', '--loglevel', 'info'], clone)
        expect(installed.status, installed.output.slice(-3000)).toBe(0)
        const postinstall = ORT_POSTINSTALL.exec(installed.output)
        if (install.scriptsRun) expect(postinstall?.[1], 'onnxruntime-node postinstall exit code').toBe('0')
        else expect(postinstall).toBeNull()
        expect(existsSync(join(clone, ORT_CUDA_PROVIDER))).toBe(false)
        // The prepare script built dist/, and the clone passes the library tests, among them ONNX
        // Runtime loading model.onnx and reproducing the fast LSTM.
        expect(existsSync(join(clone, 'dist', 'commands', 'serve.js'))).toBe(true)
        const tests = await run('npm', ['run', 'test:unit'], clone)
        expect(tests.status, tests.output.slice(-3000)).toBe(0)
        expect(tests.output.replace(/\x1b\[[0-9;]*m/g, '')).toMatch(/✓ test\/export\/onnx-model\.test\.ts/)
      },
      INSTALL_TIMEOUT_MS,
    )
  }
})
