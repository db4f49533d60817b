import {UserError} from './errors.js'

/** How a rejected flag value is shown: NaN (a flag given a word) would print as "NaN". */
function shown(value: number): string {
  return Number.isNaN(value) ? 'something that is not a number' : String(value)
}

/** An optional flag that must be a whole number ≥ min; a one-line UserError naming the flag otherwise. */
export function requireInteger(value: number | undefined, flag: string, min: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min)) {
    throw new UserError(`${flag} must be a whole number ≥ ${min}, got ${shown(value)}`)
  }
}

/** An optional flag that must be a finite number > 0. */
export function requirePositive(value: number | undefined, flag: string): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new UserError(`${flag} must be a number > 0, got ${shown(value)}`)
  }
}

/** An optional flag that must be a finite number ≥ 0. */
export function requireNonNegative(value: number | undefined, flag: string): void {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
    throw new UserError(`${flag} must be a number ≥ 0, got ${shown(value)}`)
  }
}
