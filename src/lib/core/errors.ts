/**
 * An error the user can cause and fix: bad flags, missing or corrupt files, a backend that
 * cannot load. Commands print its message as one line and exit non-zero, without a stack trace.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UserError'
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
