import {cpus} from 'node:os'

import {BackendName, BackendProbe, probeBackends} from '../backend.js'
import {errorMessage} from '../core/errors.js'
import {MNIST_FILE_NAMES, SplitName, bundledMnistDir, loadMnistSplit} from '../data/mnist.js'
import {EngineName} from '../export/engines/engine.js'
import {onnxRuntimeStatus} from '../export/engines/onnxruntime.js'

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
  /** The engines that run exported versions, whether each loads, and what `--engine auto` picks and why. */
  engines: Array<{name: EngineName; loads: boolean; version?: string; reason?: string}>
  autoEngine: {engine: EngineName; reason: string}
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
  const autoBackend = backends.find((probe) => probe.loads)?.name
  const ort = await onnxRuntimeStatus()
  const engines: ToolkitInfo['engines'] = [
    ort.loads ? {name: 'onnxruntime', loads: true, version: ort.version} : {name: 'onnxruntime', loads: false, reason: ort.problem},
    autoBackend ? {name: 'tfjs', loads: true, reason: `on backend ${autoBackend}`} : {name: 'tfjs', loads: false, reason: 'no TF.js backend loads'},
  ]
  const autoEngine: ToolkitInfo['autoEngine'] = ort.loads
    ? {engine: 'onnxruntime', reason: `versions with model.onnx, as onnxruntime-node ${ort.version} loads; older versions and checkpoints run on tfjs`}
    : {engine: 'tfjs', reason: `onnxruntime-node does not load (${ort.problem})`}
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    backends,
    autoBackend,
    engines,
    autoEngine,
    data,
  }
}
