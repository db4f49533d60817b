import {loadMnistSplit} from '../data/mnist.js'
import {evaluateWeights} from '../evaluation/evaluator.js'
import {disposeClassifierWeights} from '../model/weights.js'
import {IMAGE_PIXELS} from '../core/image.js'
import {loadCheckpoint} from '../training/checkpoint.js'
import {requireInteger} from '../core/validation.js'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {UserError} from '../core/errors.js'
import {onnxRuntimeStatus} from '../export/engines/onnxruntime.js'
import {ONNX_MODEL_FILE} from '../export/format.js'
import {TritonResult, checkTritonVersionAvailable, writeTritonVersion} from '../export/triton.js'
import {DEFAULT_PROBE_IMAGES} from '../export/verify.js'
import {nextVersion} from '../export/versions.js'
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
  /** Write model.onnx too (default true). */
  onnx?: boolean
  /** Also add the version's model.onnx to this Triton model repository, as `<tritonModelName>/<version>/model.onnx`. */
  tritonRepo?: string
  tritonModelName: string
  tritonMaxBatchSize?: number
}

export interface ExportCheckpointResult extends ExportResult {
  checkpoint: {name: string; path: string; step: number; sizeBytes: number}
  testAccuracy: number
  testImages: number
  triton?: TritonResult
}

/** Refuses values no export can use (a UserError naming the flag), before any work. */
export function checkExportOptions(options: Pick<ExportCheckpointOptions, 'version' | 'limit' | 'tritonMaxBatchSize'>): void {
  requireInteger(options.version, '--version', 1)
  requireInteger(options.limit, '--limit', 1)
  requireInteger(options.tritonMaxBatchSize, '--triton-max-batch-size', 1)
}

/**
 * `mnist-rnn export`: scores a checkpoint on the test set, then writes it as an export version
 * (verified against stock tf.loadLayersModel and published atomically; see writeExport).
 */
export async function exportCheckpoint(options: ExportCheckpointOptions): Promise<ExportCheckpointResult> {
  checkExportOptions(options)
  const onnx = options.onnx ?? true
  if (options.version !== undefined) checkVersionAvailable(options.exportDir, options.version, options.force)
  // Refuse before minutes of scoring, not after.
  const version = options.version ?? nextVersion(options.exportDir)
  if (options.tritonRepo !== undefined) {
    if (!onnx) throw new UserError('--triton-repo needs model.onnx: drop --no-onnx')
    checkTritonVersionAvailable(options.tritonRepo, options.tritonModelName, version, options.force)
  }
  if (onnx) {
    const status = await onnxRuntimeStatus()
    if (!status.loads) throw new UserError(`cannot verify model.onnx: onnxruntime-node does not load here (${status.problem}); use --no-onnx to export only the TF.js Layers format`)
  }
  const checkpoint = loadCheckpoint(options.checkpointDir, options.checkpoint)
  try {
    const testSet = loadMnistSplit('test', options.dataDir, options.limit)
    const scored = await evaluateWeights(checkpoint.weights, testSet, {keepErrors: 0})
    const probeCount = Math.min(DEFAULT_PROBE_IMAGES, testSet.count)
    const result = await writeExport({
      weights: checkpoint.weights,
      exportDir: options.exportDir,
      version,
      force: options.force,
      onnx,
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
    const triton =
      options.tritonRepo === undefined
        ? undefined
        : writeTritonVersion({
            repoDir: options.tritonRepo,
            modelName: options.tritonModelName,
            version: result.version,
            onnxModel: readFileSync(join(result.path, ONNX_MODEL_FILE)),
            maxBatchSize: options.tritonMaxBatchSize,
            force: options.force,
          })
    return {
      ...result,
      triton,
      checkpoint: {name: checkpoint.name, path: checkpoint.path, step: checkpoint.step, sizeBytes: checkpoint.sizeBytes},
      testAccuracy: scored.accuracy,
      testImages: scored.images,
    }
  } finally {
    disposeClassifierWeights(checkpoint.weights)
  }
}
