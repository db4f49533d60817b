import * as tf from '@tensorflow/tfjs'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {kerasClassifierFrom} from '../model/keras.js'
import {ClassifierWeights} from '../model/weights.js'
import {MODEL_JSON_FILE, WEIGHTS_FILE} from './format.js'

/** The two files of the stock TF.js Layers format, as bytes. */
export interface LayersModelFiles {
  modelJson: Buffer
  weightsBin: Buffer
}

/**
 * Serialises the classifier as a stock Keras-style TF.js LayersModel: model.json (topology plus
 * a weights manifest naming weights.bin) and weights.bin (float32, little-endian, in manifest
 * order), exactly what `tf.io.http`/`tf.loadLayersModel('…/model.json')` fetches. Built by
 * saving through a custom handler because tfjs-node's `file://` handler is not available here.
 */
export async function layersModelFiles(weights: ClassifierWeights): Promise<LayersModelFiles> {
  const model = kerasClassifierFrom(weights)
  let artifacts: tf.io.ModelArtifacts | undefined
  try {
    await model.save(
      tf.io.withSaveHandler(async (saved) => {
        artifacts = saved
        return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}}
      }),
    )
  } finally {
    model.dispose()
  }
  if (!artifacts?.weightSpecs || !artifacts.weightData) throw new Error('the Layers model saved no weights')
  const modelJson: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as object,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs}],
  }
  return {
    modelJson: Buffer.from(JSON.stringify(modelJson)),
    weightsBin: Buffer.from(tf.io.concatenateArrayBuffers(artifacts.weightData)),
  }
}

/**
 * A TF.js IOHandler that reads an exported version folder from disk, so that stock
 * `tf.loadLayersModel(exportFolderHandler('exportmodel/2'))` works in Node without tfjs-node.
 * (In a browser, `tf.loadLayersModel('https://host/exportmodel/2/model.json')` reads the same files.)
 */
export function exportFolderHandler(folder: string): tf.io.IOHandler {
  return {
    load: async () => {
      const modelJson = JSON.parse(readFileSync(join(folder, MODEL_JSON_FILE), 'utf8')) as tf.io.ModelJSON
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const buffers = manifest.flatMap((group) => group.paths.map((path) => bufferOf(readFileSync(join(folder, path)))))
        return [tf.io.getWeightSpecs(manifest), tf.io.concatenateArrayBuffers(buffers)]
      })
    },
  }
}

/** The bytes of a Buffer as their own ArrayBuffer (a Buffer may be a view into a shared pool). */
export function bufferOf(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
}
