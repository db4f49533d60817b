import {ModelEngine} from '../../../src/lib/serving/core/model-manager.js'
import {VerifiedVersion} from '../../../src/lib/serving/inference/model-runner.js'

/**
 * A stand-in for the inference pool behind the model manager: records what it is asked to load
 * and unload, holds the versions it loaded, and fails or holds the loads a test asks it to.
 */
export class FakeEngine implements ModelEngine {
  readonly loaded = new Set<number>()
  /** Every load and unload, in order: "load 2", "unload 1". */
  readonly calls: string[] = []
  /** Versions whose load fails, with the reason given. */
  readonly failing = new Map<number, string>()
  private held: Array<() => void> = []
  private holding = false

  async load(model: VerifiedVersion): Promise<void> {
    this.calls.push(`load ${model.version}`)
    if (this.holding) await new Promise<void>((resume) => this.held.push(resume))
    const failure = this.failing.get(model.version)
    if (failure !== undefined) throw new Error(failure)
    this.loaded.add(model.version)
  }

  unload(version: number): void {
    this.calls.push(`unload ${version}`)
    this.loaded.delete(version)
  }

  /** Loads wait until release(). */
  hold(): void {
    this.holding = true
  }

  release(): void {
    this.holding = false
    for (const resume of this.held.splice(0)) resume()
  }
}
