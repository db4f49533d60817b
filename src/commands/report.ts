import {Flags} from '@oclif/core'

import {MnistCommand, backendFlag, dataDirFlag, numberFlag} from '../lib/cli/base-command.js'
import {DEFAULT_EVAL_BATCH_SIZE} from '../lib/evaluation/evaluator.js'
import {DEFAULT_REPORT_FILE, ReportResult, checkReportOptions, writeReport} from '../lib/jobs/report.js'
import {DEFAULT_CHECKPOINT_DIR} from '../lib/training/config.js'

export default class Report extends MnistCommand {
  static description = `Write one self-contained HTML report (opens offline, nothing fetched): loss, accuracy and learning-rate
curves from a training log, and, for a model, its test-set confusion matrix, per-class precision/recall/F1,
misclassified digits, and an exported version's signature and file hashes`

  static examples = [
    '<%= config.bin %> report --log-file train.jsonl',
    '<%= config.bin %> report --log-file train.jsonl --model exportmodel/2 --out report.html',
    '<%= config.bin %> report --log-file train.jsonl --checkpoint-dir checkpoints --limit 2000',
  ]

  static flags = {
    'log-file': Flags.string({description: 'a training log written by train --log-file: the curves and the training config', helpValue: 'FILE'}),
    model: Flags.string({description: 'evaluate an exported model: a version folder (exportmodel/2) or an export directory (its highest valid version)', helpValue: 'PATH', exclusive: ['checkpoint']}),
    checkpoint: Flags.string({description: `evaluate this checkpoint of --checkpoint-dir (ckpt-2000 or 2000)`, helpValue: 'NAME'}),
    'checkpoint-dir': Flags.string({description: `evaluate the latest checkpoint in DIR (with --checkpoint: where it is; default ${DEFAULT_CHECKPOINT_DIR})`, helpValue: 'DIR'}),
    out: Flags.string({char: 'o', description: 'the HTML file to write', default: DEFAULT_REPORT_FILE, helpValue: 'FILE'}),
    'data-dir': dataDirFlag,
    limit: numberFlag({description: 'evaluate on the first N test images only (default: all 10,000)'}),
    'batch-size': numberFlag({description: 'images per inference batch', default: DEFAULT_EVAL_BATCH_SIZE}),
    backend: backendFlag,
  }

  async run(): Promise<ReportResult> {
    const {flags} = await this.parse(Report)
    const evaluate = flags.model !== undefined || flags.checkpoint !== undefined || flags['checkpoint-dir'] !== undefined
    const options = {
      out: flags.out,
      logFile: flags['log-file'],
      source: evaluate ? {model: flags.model, checkpoint: flags.checkpoint, checkpointDir: flags['checkpoint-dir'] ?? DEFAULT_CHECKPOINT_DIR} : undefined,
      dataDir: flags['data-dir'],
      limit: flags.limit,
      batchSize: flags['batch-size'],
      toolkitVersion: this.config.version,
    }
    checkReportOptions(options)
    const result = await writeReport({...options, backend: await this.useBackend(flags.backend)})
    const what = [
      result.steps > 0 ? `${result.steps} steps, ${result.epochs} epochs` : '',
      result.evaluated ? `test accuracy ${result.evaluated.accuracy.toFixed(4)} on ${result.evaluated.images} images` : '',
    ].filter((part) => part !== '')
    this.log(`Wrote ${result.path} (${Math.round(result.bytes / 1024)} KiB${what.length > 0 ? `; ${what.join('; ')}` : ''})`)
    return result
  }
}
