import {readFileSync} from 'node:fs'

import {UserError, errorMessage} from '../core/errors.js'
import {TrainingConfig} from './config.js'

/**
 * The `--log-file` format (JSON lines, written by listeners/json-log.ts), one entry per event,
 * each with `event` and `time` (ISO 8601). A resumed run appends to the same file, so a file may
 * hold several runs, each opened by a `begin` entry.
 */
export interface LogBegin {
  event: 'begin'
  startStep: number
  targetSteps: number
  batchesPerEpoch: number
  resumedFrom?: string
  /** Gradient workers (absent in logs written before --workers existed). */
  workers?: number
  config: TrainingConfig
  time: string
}

export interface LogStep {
  event: 'step'
  step: number
  epoch: number
  loss: number
  accuracy: number
  learningRate: number
  examplesPerSecond: number
  wallTime: number
  time: string
}

export interface LogEpoch {
  event: 'epoch'
  epoch: number
  step: number
  validationLoss?: number
  validationAccuracy?: number
  wallTime: number
  time: string
}

export interface LogCheckpoint {
  event: 'checkpoint'
  step: number
  name: string
  path: string
  wallTime: number
  time: string
}

export interface LogEnd {
  event: 'end'
  step: number
  stopped: boolean
  reason?: string
  wallTime: number
  time: string
}

export type LogEntry = LogBegin | LogStep | LogEpoch | LogCheckpoint | LogEnd

const EVENT_NAMES = new Set<LogEntry['event']>(['begin', 'step', 'epoch', 'checkpoint', 'end'])

/** One run of the log: a begin entry and what followed it up to the next begin. */
export interface LoggedRun {
  begin: LogBegin
  end?: LogEnd
  checkpoints: LogCheckpoint[]
}

/**
 * A training log as a history: one value per step and per epoch. Where runs overlap (a run that
 * went on past its last checkpoint, then was resumed from it), the later run's values win,
 * as TensorBoard drops the orphaned steps.
 */
export interface TrainingHistory {
  runs: LoggedRun[]
  steps: LogStep[]
  epochs: LogEpoch[]
}

/** Entries of a JSON-lines log; a line that is not a log entry is a UserError naming the line. */
export function parseLogEntries(text: string, source = 'the log'): LogEntry[] {
  const entries: LogEntry[] = []
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return
    let entry: unknown
    try {
      entry = JSON.parse(line)
    } catch (error) {
      throw new UserError(`${source} line ${index + 1} is not JSON: ${errorMessage(error)}`)
    }
    const event = (entry as {event?: unknown} | null)?.event
    if (typeof event !== 'string' || !EVENT_NAMES.has(event as LogEntry['event'])) {
      throw new UserError(`${source} line ${index + 1} is not a training log entry (no known "event" field)`)
    }
    entries.push(entry as LogEntry)
  })
  return entries
}

export function historyOf(entries: LogEntry[]): TrainingHistory {
  const runs: LoggedRun[] = []
  const steps = new Map<number, LogStep>()
  const epochs = new Map<number, LogEpoch>()
  for (const entry of entries) {
    const run = runs.at(-1)
    switch (entry.event) {
      case 'begin':
        runs.push({begin: entry, checkpoints: []})
        // A resumed run replaces whatever was logged past its starting step.
        for (const step of steps.keys()) if (step > entry.startStep) steps.delete(step)
        for (const [epoch, logged] of epochs) if (logged.step > entry.startStep) epochs.delete(epoch)
        break
      case 'step':
        steps.set(entry.step, entry)
        break
      case 'epoch':
        epochs.set(entry.epoch, entry)
        break
      case 'checkpoint':
        run?.checkpoints.push(entry)
        break
      case 'end':
        if (run) run.end = entry
        break
    }
  }
  return {
    runs,
    steps: [...steps.values()].sort((a, b) => a.step - b.step),
    epochs: [...epochs.values()].sort((a, b) => a.epoch - b.epoch),
  }
}

/** Reads a `--log-file`: a missing, unreadable or malformed file is a UserError. */
export function readTrainingLog(path: string): TrainingHistory {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new UserError(`cannot read the training log ${path}: ${errorMessage(error)}`)
  }
  const history = historyOf(parseLogEntries(text, path))
  if (history.runs.length === 0 && history.steps.length === 0) throw new UserError(`${path} holds no training log entries`)
  return history
}
