import {Flags} from '@oclif/core'

import {withProgressBar} from '../lib/cli/progress.js'
import {MnistCommand, backendFlag, dataDirFlag, numberFlag} from '../lib/cli/base-command.js'
import {DEFAULT_EVAL_BATCH_SIZE} from '../lib/evaluation/evaluator.js'
import {ENGINE_CHOICES, EngineChoice} from '../lib/export/engines/engine.js'
import {EvaluationReport, formatEvaluationReport} from '../lib/evaluation/report.js'
import {checkEvalOptions, evaluateOnTestSet} from '../lib/jobs/evaluate.js'
import {DEFAULT_CHECKPOINT_DIR} from '../lib/training/config.js'

export default class Eval extends MnistCommand {
  static description = `Score a checkpoint or an exported model on the MNIST test set: accuracy, loss, speed, confusion matrix,
per-class precision/recall/F1, the most confused digit pairs, and optionally a PNG of the misclassified digits`

  static examples = [
    '<%= config.bin %> eval',
    '<%= config.bin %> eval --checkpoint ckpt-2000 --limit 128',
    '<%= config.bin %> eval --model exportmodel/2',
    '<%= config.bin %> eval --model exportmodel/2 --engine tfjs   # TF.js instead of ONNX Runtime',
    '<%= config.bin %> eval --model exportmodel --errors-png errors.png',
    '<%= config.bin %> eval --json > report.json',
  ]

  static flags = {
    'checkpoint-dir': Flags.string({description: 'folder of checkpoints; its latest is scored by default', default: DEFAULT_CHECKPOINT_DIR, helpValue: 'DIR'}),
    checkpoint: Flags.string({description: 'a checkpoint in --checkpoint-dir to score instead of the latest (ckpt-2000 or 2000)', helpValue: 'NAME', exclusive: ['model']}),
    model: Flags.string({description: 'an exported model: a version folder (exportmodel/2) or an export directory (its highest valid version)', helpValue: 'PATH'}),
    'data-dir': dataDirFlag,
    limit: numberFlag({description: 'score only the first N test images (default: all 10,000; 128 reproduces the seed)'}),
    'batch-size': numberFlag({description: 'images per inference batch; the test set streams through in batches', default: DEFAULT_EVAL_BATCH_SIZE}),
    'errors-png': Flags.string({description: 'write a grid of up to 100 misclassified digits, each marked true → predicted, to this PNG', helpValue: 'FILE'}),
    engine: Flags.string({
      options: [...ENGINE_CHOICES],
      default: 'auto',
      description: 'what runs the model: onnxruntime (model.onnx in ONNX Runtime) or tfjs (TF.js on --backend); auto takes onnxruntime for an exported version with model.onnx when onnxruntime-node loads',
    }),
    'onnx-threads': numberFlag({description: 'ONNX Runtime intra-op threads (default: one per core)'}),
    backend: backendFlag,
  }

  async run(): Promise<EvaluationReport> {
    const {flags} = await this.parse(Eval)
    const options = {
      checkpointDir: flags['checkpoint-dir'],
      checkpoint: flags.checkpoint,
      model: flags.model,
      dataDir: flags['data-dir'],
      limit: flags.limit,
      batchSize: flags['batch-size'],
      errorsPng: flags['errors-png'],
      engine: flags.engine as EngineChoice,
      onnxThreads: flags['onnx-threads'],
      toolkitVersion: this.config.version,
    }
    checkEvalOptions(options)
    const backend = await this.useBackend(flags.backend)
    const report = await withProgressBar(!this.jsonEnabled(), 'Evaluating [{bar}] {value}/{total} images', (onProgress) =>
      evaluateOnTestSet({...options, backend, onProgress}),
    )
    for (const line of formatEvaluationReport(report, {colour: Boolean(process.stdout.isTTY)})) this.log(line)
    return report
  }
}
