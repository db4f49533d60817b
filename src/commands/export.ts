import {Flags} from '@oclif/core'

import {MnistCommand, backendFlag, dataDirFlag, numberFlag} from '../lib/cli/base-command.js'
import {DEFAULT_EXPORT_DIR} from '../lib/export/format.js'
import {formatExportList, formatExportResult} from '../lib/jobs/export-report.js'
import {ExportCheckpointResult, exportCheckpoint} from '../lib/jobs/export.js'
import {ExportVersionEntry, listExportVersions, unfinishedExports} from '../lib/export/versions.js'
import {DEFAULT_CHECKPOINT_DIR} from '../lib/training/config.js'

type ExportListing = {exportDir: string; versions: ExportVersionEntry[]; unfinished: string[]}

export default class Export extends MnistCommand {
  static description = `Export a checkpoint as a versioned, signature-tagged model (exportmodel/N/: model.json + weights.bin in the
stock TF.js Layers format, and signature.json), verified against stock tf.loadLayersModel and published atomically`

  static examples = [
    '<%= config.bin %> export',
    '<%= config.bin %> export --version 2',
    '<%= config.bin %> export --version 2 --force --checkpoint ckpt-2000',
    '<%= config.bin %> export --list',
  ]

  static flags = {
    version: numberFlag({description: 'version number to write (default: one more than the highest existing version)'}),
    'checkpoint-dir': Flags.string({description: 'folder of checkpoints; its latest is exported by default', default: DEFAULT_CHECKPOINT_DIR, helpValue: 'DIR'}),
    checkpoint: Flags.string({description: 'a checkpoint in --checkpoint-dir to export instead of the latest (ckpt-2000 or 2000)', helpValue: 'NAME'}),
    'export-dir': Flags.string({description: 'folder holding one sub-folder per version', default: DEFAULT_EXPORT_DIR, helpValue: 'DIR'}),
    force: Flags.boolean({description: 'replace an existing version (atomically)', default: false}),
    list: Flags.boolean({description: 'list the versions in --export-dir with accuracy, step, size and date, flagging invalid folders', default: false}),
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
    const backend = await this.useBackend(flags.backend)
    const result = await exportCheckpoint({
      checkpointDir: flags['checkpoint-dir'],
      checkpoint: flags.checkpoint,
      exportDir,
      version: flags.version,
      force: flags.force,
      dataDir: flags['data-dir'],
      limit: flags.limit,
      backend,
      toolkitVersion: this.config.version,
    })
    for (const line of formatExportResult(result)) this.log(line)
    return result
  }
}
