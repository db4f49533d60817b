import {cpus} from 'node:os'

import {BackendName, BackendProbe, probeBackends} from '../backend.js'
import {errorMessage} from '../core/errors.js'
import {MNIST_FILE_NAMES, SplitName, bundledMnistDir, loadMnistSplit} from '../data/mnist.js'

export interface SplitSummary {
  images: number
  shape: number[]
}

export interface ToolkitInfo {
  node: string
  platform: string
  cpus: number
  backends: BackendProbe[]
  autoBackend: BackendName | undefined
  data: {
    source: string
    files: typeof MNIST_FILE_NAMES
    train?: SplitSummary
    test?: SplitSummary
    error?: string
  }
}

/** What `mnist-rnn info` reports: the runtime, which backends load (and why not), and the data. */
export async function gatherInfo(dataDir?: string): Promise<ToolkitInfo> {
  const backends = await probeBackends()
  const data: ToolkitInfo['data'] = {source: dataDir ?? bundledMnistDir(), files: MNIST_FILE_NAMES}
  try {
    for (const split of ['train', 'test'] as SplitName[]) {
      const set = loadMnistSplit(split, dataDir)
      data[split] = {images: set.count, shape: [set.count, 28, 28]}
    }
  } catch (error) {
    data.error = errorMessage(error)
  }
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    backends,
    autoBackend: backends.find((probe) => probe.loads)?.name,
    data,
  }
}
