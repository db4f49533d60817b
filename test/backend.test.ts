import * as tf from '@tensorflow/tfjs'
import {describe, expect, it} from 'vitest'

import {probeBackends, selectBackend, stockWasmBatchMatMulKernel} from '../src/lib/backend.js'
import {UserError} from '../src/lib/core/errors.js'

describe('backend selection', () => {
  it('auto falls back from the absent native package to wasm, and says why tensorflow is unavailable', async () => {
    const probes = await probeBackends()
    const native = probes.find((probe) => probe.name === 'tensorflow')!
    const nativeInstalled = native.loads
    expect(await selectBackend('auto')).toBe(nativeInstalled ? 'tensorflow' : 'wasm')
    if (!nativeInstalled) expect(native.reason).toMatch(/@tensorflow\/tfjs-node/)
    expect(probes.find((probe) => probe.name === 'wasm')!.loads).toBe(true)
    expect(probes.find((probe) => probe.name === 'cpu')!.loads).toBe(true)
  })

  it('activates a backend asked for by name, and refuses one that cannot load with a one-line reason', async () => {
    expect(await selectBackend('cpu')).toBe('cpu')
    expect(tf.getBackend()).toBe('cpu')
    expect(await selectBackend('wasm')).toBe('wasm')
    expect(tf.getBackend()).toBe('wasm')
    const native = (await probeBackends()).find((probe) => probe.name === 'tensorflow')!
    if (!native.loads) {
      await expect(selectBackend('tensorflow')).rejects.toThrow(UserError)
      await expect(selectBackend('tensorflow')).rejects.toThrow(/^tensorflow: the optional package @tensorflow\/tfjs-node is not installed/)
    }
  })
})

describe('wasm BatchMatMul with transposes', () => {
  const shapes: Array<{a: number[]; b: number[]; transposeA: boolean; transposeB: boolean}> = []
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      shapes.push({a: transposeA ? [33, 17] : [17, 33], b: transposeB ? [9, 33] : [33, 9], transposeA, transposeB})
      shapes.push({a: transposeA ? [3, 33, 17] : [3, 17, 33], b: transposeB ? [3, 9, 33] : [3, 33, 9], transposeA, transposeB})
    }
  }

  it.each(shapes)('matches the stock kernel: a $a, b $b, transposeA $transposeA, transposeB $transposeB', async ({a, b, transposeA, transposeB}) => {
    await selectBackend('wasm')
    const stock = stockWasmBatchMatMulKernel()!
    expect(stock).toBeDefined()
    const before = tf.memory().numTensors
    const x = tf.randomNormal(a, 0, 1, 'float32', 1)
    const y = tf.randomNormal(b, 0, 1, 'float32', 2)
    const patched = tf.matMul(x, y, transposeA, transposeB)
    const rank = a.length
    const x3 = rank === 2 ? x.expandDims(0) : x
    const y3 = rank === 2 ? y.expandDims(0) : y
    const backend = tf.backend()
    const info = stock.kernelFunc({inputs: {a: x3, b: y3}, backend, attrs: {transposeA, transposeB}}) as tf.TensorInfo
    const reference = tf.engine().makeTensorFromTensorInfo(info)
    expect(patched.shape).toEqual(rank === 2 ? reference.shape.slice(1) : reference.shape)
    const got = patched.dataSync()
    const want = reference.dataSync()
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 4)
    tf.dispose([x, y, patched, x3, y3, reference])
    expect(tf.memory().numTensors).toBe(before)
  })
})
