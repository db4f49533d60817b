/** The exported-model format: what export writes and what eval and serve read. */
export * from './format.js'
export {exportFolderHandler, layersModelFiles} from './layers-files.js'
export {verifyExportFolder} from './read.js'
export type {VerifiedExport} from './read.js'
export {VERIFY_TOLERANCE, ONNX_VERIFY_TOLERANCE, DEFAULT_PROBE_IMAGES, maxDifferenceFromStockLoader, maxDifferenceFromOnnxRuntime} from './verify.js'
export {
  listExportVersions,
  latestValidVersion,
  loadExportedModel,
  nextVersion,
  resolveExportPath,
  unfinishedExports,
} from './versions.js'
export type {ExportVersionEntry, ExportedModel} from './versions.js'
export {writeExport} from './write.js'
export type {ExportResult, WriteExportOptions} from './write.js'
