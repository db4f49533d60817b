import {appendFileSync} from 'node:fs'

import {UserError, errorMessage} from '../../core/errors.js'
import {TrainingEventMap, TrainingEventName, TrainingEvents} from '../events.js'
import {LogEntry} from '../log-file.js'

/**
 * Turns each training event into its log entry (the `--log-file` format, read back by log-file.ts)
 * and hands it to `sink`: a file, or memory for a report.
 */
export function attachLogEntries(events: TrainingEvents, sink: (entry: LogEntry) => void): void {
  const record = <E extends TrainingEventName>(event: E, name: LogEntry['event'], pick: (payload: TrainingEventMap[E]) => object) =>
    events.on(event, (payload) => sink({event: name, ...pick(payload), time: new Date().toISOString()} as LogEntry))
  record('trainBegin', 'begin', ({config, startStep, targetSteps, batchesPerEpoch, resumedFrom, workers}) => ({
    startStep,
    targetSteps,
    batchesPerEpoch,
    resumedFrom,
    workers,
    config,
  }))
  record('stepEnd', 'step', ({targetSteps: _target, ...step}) => step)
  record('epochEnd', 'epoch', ({epoch, step, validationLoss, validationAccuracy, wallTime}) => ({epoch, step, validationLoss, validationAccuracy, wallTime}))
  record('checkpointSaved', 'checkpoint', (saved) => saved)
  record('trainEnd', 'end', (end) => end)
}

/**
 * `--log-file`: one JSON object per line and per event, appended (a resumed run continues the
 * same file), e.g. {"event":"step","step":200,"epoch":1,"loss":0.51,"accuracy":0.84,
 * "learningRate":0.001,"examplesPerSecond":850,"wallTime":31.2,"workers":2,"gradientNorm":0.9,"time":"2026-…"}.
 * Each line is appended synchronously, so every line written survives a crash.
 */
export class JsonLinesLog {
  /** Fails at once (a UserError) when the file cannot be written. */
  constructor(readonly path: string) {
    this.append('')
  }

  attach(events: TrainingEvents): void {
    attachLogEntries(events, (entry) => this.write(entry))
  }

  private write(entry: object): void {
    this.append(`${JSON.stringify(entry)}\n`)
  }

  private append(text: string): void {
    try {
      appendFileSync(this.path, text)
    } catch (error) {
      throw new UserError(`cannot write the log file ${this.path}: ${errorMessage(error)}`)
    }
  }
}
