import cliProgress from 'cli-progress'

export type ProgressCallback = (done: number, total: number) => void

/**
 * Runs `work` with a progress callback that draws a bar on stderr when it is a terminal and the
 * output is not JSON; otherwise the callback is undefined and nothing is drawn.
 */
export async function withProgressBar<T>(
  enabled: boolean,
  format: string,
  work: (onProgress: ProgressCallback | undefined) => Promise<T>,
): Promise<T> {
  if (!enabled || !process.stderr.isTTY) return work(undefined)
  const bar = new cliProgress.SingleBar({format, stream: process.stderr}, cliProgress.Presets.shades_classic)
  try {
    return await work((done, total) => {
      if (!bar.isActive) bar.start(total, 0)
      bar.update(done)
    })
  } finally {
    bar.stop()
  }
}
