import {saveCheckpoint} from '../checkpoint.js'
import {Trainer} from '../trainer.js'

export interface CheckpointerOptions {
  dir: string
  /** Save every N steps; undefined: at the end of every epoch (after validation, so its metrics are stored). */
  everySteps?: number
  keep: number
}

/**
 * Saves checkpoints as training goes (every N steps or every epoch, like Keras's ModelCheckpoint)
 * and once more when training ends or is stopped, unless that step is already saved.
 * Emits checkpointSaved through the trainer so that logs and displays can report it.
 */
export function attachCheckpointer(trainer: Trainer, options: CheckpointerOptions): void {
  let lastSavedStep = trainer.step

  const save = async (): Promise<void> => {
    if (trainer.step === lastSavedStep) return
    const path = saveCheckpoint(options.dir, await trainer.snapshot(), options.keep)
    lastSavedStep = trainer.step
    const name = path.slice(path.lastIndexOf('/') + 1)
    await trainer.emit('checkpointSaved', {step: trainer.step, name, path, wallTime: trainer.wallTime})
  }

  const everySteps = options.everySteps
  if (everySteps === undefined) {
    trainer.on('epochEnd', save)
  } else {
    trainer.on('stepEnd', async ({step}) => {
      if (step % everySteps === 0) await save()
    })
  }
  // Before the displays and logs hear trainEnd, so that they report the final checkpoint first.
  trainer.prepend('trainEnd', save)
}
