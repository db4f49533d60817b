import {loadMnistSplit} from '../data/mnist.js'
import {evaluateWeights} from '../evaluation/evaluator.js'
import {disposeClassifierWeights} from '../model/weights.js'
import {IMAGE_PIXELS} from '../core/image.js'
import {loadCheckpoint} from '../training/checkpoint.js'
import {requireInteger} from '../core/validation.js'
import {DEFAULT_PROBE_IMAGES} from '../export/verify.js'
import {ExportResult, checkVersionAvailable, writeExport} from '../export/write.js'

export interface ExportCheckpointOptions {
  checkpointDir: string
  /** A checkpoint name (ckpt-60 or 60); the latest when absent. */
  checkpoint?: string
  exportDir: string
  version?: number
  force: boolean
  /** Test data for the accuracy recorded at export time and for the verification probe. */
  dataDir?: string
  limit?: number
  backend: string
  toolkitVersion: string
}

export interface ExportCheckpointResult extends ExportResult {
  checkpoint: {name: string; path: string; step: number; sizeBytes: number}
  testAccuracy: number
  testImages: number
}

/**
 * `mnist-rnn export`: scores a checkpoint on the test set, then writes it as an export version
 * (verified against stock tf.loadLayersModel and published atomically; see writeExport).
 */
export async function exportCheckpoint(options: ExportCheckpointOptions): Promise<ExportCheckpointResult> {
  requireInteger(options.version, '--version', 1)
  requireInteger(options.limit, '--limit', 1)
  if (options.version !== undefined) checkVersionAvailable(options.exportDir, options.version, options.force)
  const checkpoint = loadCheckpoint(options.checkpointDir, options.checkpoint)
  try {
    const testSet = loadMnistSplit('test', options.dataDir, options.limit)
    const scored = await evaluateWeights(checkpoint.weights, testSet, {keepErrors: 0})
    const probeCount = Math.min(DEFAULT_PROBE_IMAGES, testSet.count)
    const result = await writeExport({
      weights: checkpoint.weights,
      exportDir: options.exportDir,
      version: options.version,
      force: options.force,
      probeImages: testSet.images.subarray(0, probeCount * IMAGE_PIXELS),
      provenance: {
        checkpoint: {name: checkpoint.name, path: checkpoint.path, step: checkpoint.step, epoch: checkpoint.epoch},
        test_accuracy: scored.accuracy,
        test_images: scored.images,
        training_config: {...checkpoint.config},
        toolkit_version: options.toolkitVersion,
        backend: options.backend,
      },
    })
    return {
      ...result,
      checkpoint: {name: checkpoint.name, path: checkpoint.path, step: checkpoint.step, sizeBytes: checkpoint.sizeBytes},
      testAccuracy: scored.accuracy,
      testImages: scored.images,
    }
  } finally {
    disposeClassifierWeights(checkpoint.weights)
  }
}
