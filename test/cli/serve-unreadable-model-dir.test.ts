import {spawn, spawnSync} from 'node:child_process'
import {once} from 'node:events'
import {chmodSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it, onTestFinished} from 'vitest'

import {CLI, REPO_ROOT, makeTempDir, waitForOutput} from '../helpers/cli.js'
import {writeTestExport} from '../serving/serving-fixtures.js'
import {SEEDS, predict, until, versionOf} from '../serving/traffic.js'

const POLL_SECONDS = 0.2

/** Tests run as root, whom file permissions do not stop: the server runs as `nobody` instead. */
function nobody(): {uid: number; gid: number} | undefined {
  if (process.getuid?.() !== 0) return undefined
  const uid = spawnSync('id', ['-u', 'nobody'], {encoding: 'utf8'})
  const gid = spawnSync('id', ['-g', 'nobody'], {encoding: 'utf8'})
  return uid.status === 0 && gid.status === 0 ? {uid: Number(uid.stdout), gid: Number(gid.stdout)} : undefined
}

const user = nobody()
const temp = makeTempDir('mnist-rnn-unreadable-')
const models = join(temp.dir, 'models')

beforeAll(async () => {
  // mkdtemp's folder is private to root: `nobody` must reach the model directory inside it.
  chmodSync(temp.dir, 0o755)
  mkdirSync(models, {mode: 0o755})
  await writeTestExport(models, 1, SEEDS[1])
})
afterAll(() => {
  chmodSync(models, 0o755)
  temp.cleanup()
})

interface LogEvent {
  event: string
  level?: string
  message?: string
  url?: string
}

describe('a model directory that becomes unreadable while serve polls it', () => {
  it.skipIf(!user)('keeps serving the loaded version, warns why, and picks up new versions once it is readable again', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--model-dir', models, '--workers', '1', '--poll-seconds', String(POLL_SECONDS), '--json'], {
      cwd: REPO_ROOT,
      env: {...process.env, HOME: temp.dir},
      stdio: ['ignore', 'pipe', 'pipe'],
      ...user,
    })
    const exited = once(child, 'exit')
    onTestFinished(() => void (child.exitCode === null && child.kill('SIGKILL')))
    const {output, match} = waitForOutput(child, /^\{"event":"listening".*\}$/m)
    const {url} = JSON.parse((await match)[0]) as LogEvent
    const warnings = () =>
      output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as LogEvent)
        .filter((event) => event.level === 'warn')
        .map((event) => event.message)

    chmodSync(models, 0o000)
    await until(() => warnings().length > 0, 'a warning about the model directory')
    expect(warnings()[0]).toBe(`cannot read ${models}: permission denied; still serving version 1`)
    const answer = await predict(url!, 0)
    expect(answer.status).toBe(200)
    expect(versionOf(answer.logits!, 0)).toBe(1)

    chmodSync(models, 0o755)
    await writeTestExport(models, 2, SEEDS[2])
    await until(async () => versionOf((await predict(url!, 1)).logits!, 1) === 2, 'version 2 to be served')

    child.kill('SIGTERM')
    expect((await exited)[0]).toBe(0)
  })
})
