import {chmodSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createClassifierWeights, disposeClassifierWeights, weightArraysOf} from '../../src/lib/model/weights.js'
import {saveCheckpoint} from '../../src/lib/training/checkpoint.js'
import {newTrainingConfig} from '../../src/lib/training/config.js'
import {linesOf, makeTempDir, runCliAsync} from '../helpers/cli.js'
import {writeTestExport} from '../serving/serving-fixtures.js'

/**
 * Exports and checkpoints are as readable as any file their owner creates (mkdir's and
 * writeFile's modes less the umask), so a server running as another user — the normal case in a
 * container — can read what root exported. A folder it may not read is reported as such.
 */

/** The user `nobody`: what a container's non-root user is to files owned by root. */
const NOBODY = 65534
const runsAsRoot = process.getuid?.() === 0

const modeOf = (path: string) => statSync(path).mode & 0o777

/** The mode of every folder and file under `root` (itself included), by path relative to it. */
function modesUnder(root: string): Record<string, string> {
  const modes: Record<string, string> = {'.': modeOf(root).toString(8)}
  for (const entry of readdirSync(root, {withFileTypes: true, recursive: true})) {
    const path = join(entry.parentPath, entry.name)
    modes[path.slice(root.length + 1)] = modeOf(path).toString(8)
  }
  return modes
}

describe('file modes and permissions', () => {
  const temp = makeTempDir('mnist-rnn-permissions-')
  const exportDir = join(temp.dir, 'exportmodel')

  beforeAll(async () => {
    // mkdtemp made the test folder 0700; other users must be able to reach what is inside.
    chmodSync(temp.dir, 0o755)
    await writeTestExport(exportDir, 1, 3)
  })
  afterAll(() => temp.cleanup())

  it.each([
    ['022', {folder: '755', file: '644'}],
    ['027', {folder: '750', file: '640'}],
  ])('export and checkpoints create folders and files with the modes of mkdir and writeFile less the umask (%s)', async (umask, expected) => {
    const exportDir = join(temp.dir, `exportmodel-${umask}`)
    const checkpointDir = join(temp.dir, `checkpoints-${umask}`)
    const weights = createClassifierWeights(8, 1)
    const previousUmask = process.umask(Number.parseInt(umask, 8))
    try {
      await writeTestExport(exportDir, 1, 1)
      saveCheckpoint(
        checkpointDir,
        {
          step: 2,
          epoch: 0,
          dataPosition: {epoch: 0, batchInEpoch: 2},
          config: {...newTrainingConfig({hidden: 8, steps: 2}), trainingImages: 256},
          metrics: {loss: 2.3},
          weights: weightArraysOf(weights),
          optimizer: {name: 'sgd', iterations: 2, tensors: []},
        },
        5,
      )
    } finally {
      process.umask(previousUmask)
      disposeClassifierWeights(weights)
    }

    expect(modesUnder(exportDir)).toEqual({
      '.': expected.folder,
      '1': expected.folder,
      '1/model.json': expected.file,
      '1/model.onnx': expected.file,
      '1/signature.json': expected.file,
      '1/weights.bin': expected.file,
    })
    expect(modesUnder(checkpointDir)).toEqual({
      '.': expected.folder,
      checkpoint: expected.file,
      'ckpt-2': expected.folder,
      'ckpt-2/checkpoint.json': expected.file,
      'ckpt-2/optimizer.bin': expected.file,
      'ckpt-2/weights.bin': expected.file,
    })
  })

  it.runIf(runsAsRoot)(
    'a version folder another user may not read (0700, owned by root) is reported as "cannot read …: permission denied" by serve, eval and export --list',
    async () => {
      // What exports made before the fix looked like.
      chmodSync(join(exportDir, '1'), 0o700)
      const asNobody = (...args: string[]) => runCliAsync(args, {uid: NOBODY, gid: NOBODY, env: {HOME: temp.dir}})
      const unreadable = `cannot read ${join(exportDir, '1')}: permission denied`

      const evaluated = await asNobody('eval', '--model', exportDir, '--limit', '50')
      expect(evaluated.status).toBe(1)
      expect(linesOf(evaluated.stderr).at(-1)).toBe(`Error: ${unreadable}`)

      const listed = await asNobody('export', '--list', '--export-dir', exportDir)
      expect(listed.status, listed.stderr).toBe(0)
      expect(linesOf(listed.stdout)[1]).toMatch(/^\s+1\s+—\s+—\s+—\s+—\s+(.*)$/)
      expect(linesOf(listed.stdout)[1].endsWith(`  ${unreadable}`)).toBe(true)

      const served = await asNobody('serve', '--model-dir', exportDir, '--port', '0', '--workers', '1')
      expect(served.status).toBe(1)
      expect(linesOf(served.stderr).at(-1)).toBe(`Error: no servable version in ${exportDir}: version 1: ${unreadable}`)
      expect(served.stderr).not.toMatch(/holds no model versions|\n\s+at /)

      // Its owner still reads it: 0700 versions exported before the fix keep working where the permissions allow.
      const asRoot = await runCliAsync(['eval', '--model', exportDir, '--limit', '50', '--json'])
      expect(asRoot.status, asRoot.stderr).toBe(0)
      expect(JSON.parse(asRoot.stdout).model).toMatchObject({kind: 'export', name: '1'})
      chmodSync(join(exportDir, '1'), 0o755)
    },
  )

  it.runIf(runsAsRoot)('an export directory another user may not read is reported the same way', async () => {
    chmodSync(exportDir, 0o700)
    try {
      for (const args of [
        ['eval', '--model', exportDir, '--limit', '50'],
        ['serve', '--model-dir', exportDir, '--port', '0', '--workers', '1'],
      ]) {
        const result = await runCliAsync(args, {uid: NOBODY, gid: NOBODY, env: {HOME: temp.dir}})
        expect(result.status, args.join(' ')).toBe(1)
        expect(linesOf(result.stderr).at(-1)).toBe(`Error: cannot read ${exportDir}: permission denied`)
      }
    } finally {
      chmodSync(exportDir, 0o755)
    }
  })
})
