import {ExportSignature} from '../export/format.js'
import {loadExportedModel, resolveExportPath} from '../export/versions.js'
import {ClassifierWeights, hiddenUnitsOf} from '../model/weights.js'
import {loadCheckpoint} from '../training/checkpoint.js'
import {EvaluatedModel} from '../evaluation/report.js'

export interface ModelSource {
  checkpointDir: string
  /** A checkpoint name in checkpointDir (ckpt-60 or 60); the latest when absent. */
  checkpoint?: string
  /** An export version folder, or an export directory (its highest valid version). Wins over checkpoints. */
  model?: string
}

/** The weights to evaluate (tf.Variables: the caller disposes them), model.onnx's bytes for an export that has them, what they are, and an export's signature. */
export async function loadModelForEvaluation(source: ModelSource): Promise<{weights: ClassifierWeights; onnxModel?: Buffer; model: EvaluatedModel; signature?: ExportSignature}> {
  if (source.model !== undefined) {
    const {exportDir, version} = resolveExportPath(source.model)
    const exported = await loadExportedModel(exportDir, version)
    return {
      weights: exported.weights,
      onnxModel: exported.onnxModel,
      model: {
        kind: 'export',
        path: exported.path,
        name: String(exported.version),
        step: exported.signature.provenance.checkpoint?.step,
        hidden: exported.hidden,
      },
      signature: exported.signature,
    }
  }
  const checkpoint = loadCheckpoint(source.checkpointDir, source.checkpoint)
  return {
    weights: checkpoint.weights,
    model: {kind: 'checkpoint', path: checkpoint.path, name: checkpoint.name, step: checkpoint.step, hidden: hiddenUnitsOf(checkpoint.weights)},
  }
}
