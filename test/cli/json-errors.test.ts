import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {makeTempDir, runCliAsync} from '../helpers/cli.js'

const temp = makeTempDir('mnist-rnn-json-errors-')
afterAll(() => temp.cleanup())
const missing = join(temp.dir, 'none')

/** A failing command run with --json, the exit code it must give, and the error it must report. */
const FAILURES: Array<{name: string; args: string[]; status: number; error: string}> = [
  {name: 'eval with a missing checkpoint directory', args: ['eval', '--checkpoint-dir', missing], status: 1, error: `checkpoint directory ${missing} does not exist`},
  {name: 'export with a missing checkpoint directory', args: ['export', '--checkpoint-dir', missing, '--export-dir', join(temp.dir, 'out')], status: 1, error: `checkpoint directory ${missing} does not exist`},
  {name: 'train with a value no run can use', args: ['train', '--steps', '0', '--checkpoint-dir', join(temp.dir, 'ckpt')], status: 1, error: '--steps must be a whole number ≥ 1, got 0'},
  {name: 'eval with an unknown flag', args: ['eval', '--checkpoint-dir', missing, '--bogus'], status: 2, error: 'Nonexistent flag: --bogus'},
  {name: 'eval with a value outside a flag’s choices', args: ['eval', '--backend', 'nope'], status: 2, error: 'Expected --backend=nope to be one of: auto, tensorflow, wasm, cpu'},
  {name: 'serve with a port that is not a number', args: ['serve', '--port', 'abc'], status: 2, error: '--port: Expected an integer but received: abc'},
  {name: 'eval with two flags that exclude each other', args: ['eval', '--model', 'a', '--checkpoint', 'b'], status: 2, error: '--model=a cannot also be provided when using --checkpoint'},
]

describe('--json on a failing command: one JSON object naming the error, and a non-zero exit', () => {
  it.each(FAILURES)('$name', async ({args, status, error}) => {
    const result = await runCliAsync([...args, '--json'])
    expect(result.status).toBe(status)
    expect(JSON.parse(result.stdout)).toEqual({error})
    expect(result.stderr).not.toMatch(/\bat .+\.js:\d+/)
  })

  it('a flag error exits with the same code without --json, in one line that points to --help', async () => {
    for (const {args, status, error} of FAILURES.filter((failure) => failure.status === 2)) {
      const result = await runCliAsync(args)
      expect(result.status).toBe(status)
      expect(result.stderr.trimEnd().split('\n'), result.stderr).toEqual([`Error: ${error} (mnist-rnn ${args[0]} --help lists the flags)`])
    }
  })
})
