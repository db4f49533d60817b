import {MnistCommand, dataDirFlag} from '../lib/cli/base-command.js'
import {UserError} from '../lib/core/errors.js'
import {ToolkitInfo, gatherInfo} from '../lib/jobs/info.js'

export default class Info extends MnistCommand {
  static description = 'Show the runtime, which TensorFlow.js backends and inference engines load here (and why not), and the MNIST data found'

  static examples = ['<%= config.bin %> info', '<%= config.bin %> info --json', '<%= config.bin %> info --data-dir ./mnist']

  static flags = {
    'data-dir': dataDirFlag,
  }

  async run(): Promise<ToolkitInfo> {
    const {flags} = await this.parse(Info)
    const info = await gatherInfo(flags['data-dir'])
    if (info.data.error && flags['data-dir']) throw new UserError(info.data.error)
    this.log(`Node ${info.node} on ${info.platform}, ${info.cpus} CPUs`)
    this.log('Backends:')
    for (const probe of info.backends) {
      this.log(`  ${probe.name.padEnd(10)} ${probe.loads ? 'loads' : `unavailable: ${probe.reason}`}`)
    }
    this.log(`auto picks: ${info.autoBackend ?? 'none'}`)
    this.log('Engines (what runs an exported version; --engine on serve and eval):')
    for (const engine of info.engines) {
      const state = engine.loads ? `loads${engine.version ? ` (${engine.version})` : ''}${engine.reason ? ` ${engine.reason}` : ''}` : `unavailable: ${engine.reason}`
      this.log(`  ${engine.name.padEnd(12)} ${state}`)
    }
    this.log(`auto picks: ${info.autoEngine.engine} (${info.autoEngine.reason})`)
    this.log(`Data: ${info.data.source}`)
    if (info.data.error) this.log(`  error: ${info.data.error}`)
    for (const split of ['train', 'test'] as const) {
      const summary = info.data[split]
      if (summary) this.log(`  ${split.padEnd(5)} ${summary.images} images, shape [${summary.shape.join(', ')}]`)
    }
    return info
  }
}
