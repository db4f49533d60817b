import {closeSync, mkdirSync, openSync, writeSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'

import {UserError, errorMessage} from '../../core/errors.js'
import {EventFields, SessionStatus, SummaryValue, encodeEvent} from './protos.js'
import {tfRecord} from './records.js'

/** What every event file starts with (TensorFlow's EventsWriter). */
export const FILE_VERSION = 'brain.Event:2'
export const EVENT_FILE_PREFIX = 'events.out.tfevents.'
const MS_PER_SECOND = 1000

function unixSeconds(): number {
  return Date.now() / MS_PER_SECOND
}

/**
 * One events file, `DIR/events.out.tfevents.<unix seconds>.<hostname>`, as TensorFlow's
 * EventsWriter names and frames it: a file_version event, then one TFRecord per Event.
 * Each record is written at once (no buffering), so a crash loses nothing already reported.
 * A new file never replaces an old one: if the name is taken, `.1`, `.2`, … is appended.
 */
export class EventFileWriter {
  readonly path: string
  private fd: number | undefined

  constructor(dir: string, options: {host?: string} = {}) {
    const name = `${EVENT_FILE_PREFIX}${Math.floor(unixSeconds())}.${options.host ?? hostname()}`
    try {
      mkdirSync(dir, {recursive: true})
      let path = join(dir, name)
      for (let suffix = 1; ; suffix++) {
        try {
          this.fd = openSync(path, 'wx')
          break
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
          path = join(dir, `${name}.${suffix}`)
        }
      }
      this.path = path
    } catch (error) {
      throw new UserError(`cannot write TensorBoard events in ${dir}: ${errorMessage(error)}`)
    }
    this.write({wall_time: unixSeconds(), step: 0, file_version: FILE_VERSION})
  }

  /** An Event with a Summary of these values at a step. */
  writeSummary(step: number, values: SummaryValue[]): void {
    if (values.length > 0) this.write({wall_time: unixSeconds(), step, summary: {value: values}})
  }

  writeSessionLog(step: number, status: SessionStatus): void {
    this.write({wall_time: unixSeconds(), step, session_log: {status}})
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }

  private write(event: EventFields): void {
    if (this.fd === undefined) throw new Error(`${this.path} is closed`)
    const record = tfRecord(encodeEvent(event))
    try {
      for (let written = 0; written < record.length; ) written += writeSync(this.fd, record, written)
    } catch (error) {
      throw new UserError(`cannot write ${this.path}: ${errorMessage(error)}`)
    }
  }
}
