import {EngineChoice, EngineSelection} from '../../export/engines/engine.js'
import {selectEngine} from '../../export/engines/select.js'
import {verifyExportFolder} from '../../export/read.js'
import {scanVersionFolders} from './version-source.js'

/**
 * The engine a server runs every version on, chosen once at start-up from the version it will
 * serve first (the pinned one, or the highest that verifies): `auto` takes onnxruntime when
 * onnxruntime-node loads and that version has model.onnx. A later version without model.onnx is
 * refused by an onnxruntime server (the old one keeps serving) rather than switching engines.
 */
export async function selectServingEngine(modelDir: string, choice: EngineChoice, pinnedVersion?: number): Promise<EngineSelection> {
  const folders = scanVersionFolders(modelDir).filter((folder) => pinnedVersion === undefined || folder.version === pinnedVersion)
  for (const folder of folders) {
    let formats
    try {
      formats = verifyExportFolder(folder.path).formats
    } catch {
      continue
    }
    return selectEngine(choice, {hasOnnxModel: formats.includes('onnx'), description: `version ${folder.version}`})
  }
  // Nothing servable: the model manager will say why; any engine will do until then.
  return {engine: choice === 'onnxruntime' ? 'onnxruntime' : 'tfjs', reason: `--engine ${choice}`}
}
