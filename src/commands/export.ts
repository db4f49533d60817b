import {Flags} from '@oclif/core'

import {MnistCommand, backendFlag, dataDirFlag, numberFlag} from '../lib/cli/base-command.js'
import {DEFAULT_EXPORT_DIR} from '../lib/export/format.js'
import {DEFAULT_TRITON_MAX_BATCH_SIZE} from '../lib/export/triton.js'
import {DEFAULT_MODEL_NAME} from '../lib/serving/options.js'
import {formatExportList, formatExportResult} from '../lib/jobs/export-report.js'
import {ExportCheckpointResult, checkExportOptions, exportCheckpoint} from '../lib/jobs/export.js'
import {ExportVersionEntry, listExportVersions, unfinishedExports} from '../lib/export/versions.js'
import {DEFAULT_CHECKPOINT_DIR} from '../lib/training/config.js'

type ExportListing = {exportDir: string; versions: ExportVersionEntry[]; unfinished: string[]}

export default class Export extends MnistCommand {
  static description = `Export a checkpoint as a versioned, signature-tagged model (exportmodel/N/: model.json + weights.bin in the
stock TF.js Layers format, model.onnx for ONNX Runtime and Triton, and signature.json), verified against stock
tf.loadLayersModel and ONNX Runtime and published atomically; optionally added to a Triton model repository`

  static examples = [
    '<%= config.bin %> export',
    '<%= config.bin %> export --version 2',
    '<%= config.bin %> export --version 2 --force --checkpoint ckpt-2000',
    '<%= config.bin %> export --triton-repo triton-models',
    '<%= config.bin %> export --list',
  ]

  static flags = {
    version: numberFlag({description: 'version number to write (default: one more than the highest existing version)'}),
    'checkpoint-dir': Flags.string({description: 'folder of checkpoints; its latest is exported by default', default: DEFAULT_CHECKPOINT_DIR, helpValue: 'DIR'}),
    checkpoint: Flags.string({description: 'a checkpoint in --checkpoint-dir to export instead of the latest (ckpt-2000 or 2000)', helpValue: 'NAME'}),
    'export-dir': Flags.string({description: 'folder holding one sub-folder per version', default: DEFAULT_EXPORT_DIR, helpValue: 'DIR'}),
    force: Flags.boolean({description: 'replace an existing version (atomically)', default: false}),
    list: Flags.boolean({description: 'list the versions in --export-dir with accuracy, step, size, date and formats, flagging invalid folders', default: false}),
    onnx: Flags.boolean({description: 'also write model.onnx, verified in ONNX Runtime (--no-onnx: the TF.js Layers format only)', default: true, allowNo: true}),
    'triton-repo': Flags.string({description: 'also add the version to this Triton model repository (DIR/<model-name>/config.pbtxt, DIR/<model-name>/<version>/model.onnx)', helpValue: 'DIR'}),
    'model-name': Flags.string({description: 'the model name in the Triton repository', default: DEFAULT_MODEL_NAME}),
    'triton-max-batch-size': numberFlag({description: "max_batch_size in config.pbtxt: the largest batch Triton's dynamic batcher forms", default: DEFAULT_TRITON_MAX_BATCH_SIZE}),
    'data-dir': dataDirFlag,
    limit: numberFlag({description: 'measure the test accuracy recorded in the export on the first N test images (default: all)'}),
    backend: backendFlag,
  }

  async run(): Promise<ExportCheckpointResult | ExportListing> {
    const {flags} = await this.parse(Export)
    const exportDir = flags['export-dir']
    if (flags.list) {
      const listing = {exportDir, versions: listExportVersions(exportDir), unfinished: unfinishedExports(exportDir)}
      for (const line of formatExportList(exportDir, listing.versions, listing.unfinished)) this.log(line)
      return listing
    }
    const options = {
      checkpointDir: flags['checkpoint-dir'],
      checkpoint: flags.checkpoint,
      exportDir,
      version: flags.version,
      force: flags.force,
      dataDir: flags['data-dir'],
      limit: flags.limit,
      toolkitVersion: this.config.version,
      onnx: flags.onnx,
      tritonRepo: flags['triton-repo'],
      tritonModelName: flags['model-name'],
      tritonMaxBatchSize: flags['triton-max-batch-size'],
    }
    checkExportOptions(options)
    const result = await exportCheckpoint({...options, backend: await this.useBackend(flags.backend)})
    for (const line of formatExportResult(result)) this.log(line)
    return result
  }
}
