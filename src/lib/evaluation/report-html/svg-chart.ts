import {escapeHtml} from './html.js'

/**
 * Line charts as static SVG, drawn on the server: no script, no library, nothing to load, and the
 * same picture in every browser, in print and in a screenshot. The SVG scales to its container
 * (viewBox), and the report's stylesheet enlarges its text on narrow screens.
 */

export interface ChartSeries {
  /** Marks the polyline (data-series) for tests and styles. */
  id: string
  label: string
  colour: string
  points: Array<[number, number]>
  /** Draw a dot at each point (with its value as a tooltip): for sparse series such as per-epoch values. */
  markers?: boolean
  /** Faint: a raw series under its smoothed version. */
  faint?: boolean
  /** Left out of the legend (the raw series under a smoothed one). */
  hideInLegend?: boolean
}

export interface LineChartOptions {
  id: string
  title: string
  xLabel: string
  series: ChartSeries[]
  /** Fixed y range (accuracy: 0 to 1); otherwise the data's range, rounded out to nice ticks. */
  yMin?: number
  yMax?: number
  formatY?: (value: number) => string
}

const WIDTH = 640
const HEIGHT = 300
const MARGIN = {left: 64, right: 16, top: 14, bottom: 44}
const PLOT_WIDTH = WIDTH - MARGIN.left - MARGIN.right
const PLOT_HEIGHT = HEIGHT - MARGIN.top - MARGIN.bottom
const X_TICKS = 5
const Y_TICKS = 5
const MARKER_RADIUS = 3.5

/** A "nice" step (1, 2 or 5 × 10^k) that splits a range into about `count` parts. */
function niceStep(range: number, count: number): number {
  const rough = range / count
  const magnitude = 10 ** Math.floor(Math.log10(rough))
  const fraction = rough / magnitude
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude
}

/** Multiples of step from min to max. */
function ticks(min: number, max: number, step: number): number[] {
  const values: number[] = []
  for (let value = Math.ceil(min / step - 1e-9) * step; value <= max + step * 1e-9; value += step) values.push(Number(value.toPrecision(12)))
  return values
}

export function formatTick(value: number): string {
  if (value === 0) return '0'
  const magnitude = Math.abs(value)
  if (magnitude >= 10_000) return `${Number((value / 1000).toPrecision(4))}k`
  if (magnitude >= 1000) return Math.round(value).toLocaleString('en-US')
  if (magnitude >= 1) return String(Number(value.toPrecision(4)))
  if (magnitude >= 1e-3) return String(Number(value.toPrecision(3)))
  return value.toExponential(1).replace('.0e', 'e')
}

function range(values: number[], fallback: [number, number]): [number, number] {
  if (values.length === 0) return fallback
  let min = Math.min(...values)
  let max = Math.max(...values)
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1
    min -= pad
    max += pad
  }
  return [min, max]
}

const coordinate = (value: number) => String(Math.round(value * 10) / 10)

/** TensorBoard's smoothing: an exponential moving average, debiased at the start. */
export function smoothed(points: Array<[number, number]>, weight = 0.6): Array<[number, number]> {
  let last = 0
  return points.map(([x, y], index) => {
    last = last * weight + (1 - weight) * y
    return [x, last / (1 - weight ** (index + 1))]
  })
}

/** An `<figure>` with the chart's SVG and an HTML legend. */
export function lineChart(options: LineChartOptions): string {
  const all = options.series.flatMap((series) => series.points)
  const [xMin, xMax] = range(
    all.map(([x]) => x),
    [0, 1],
  )
  const [dataMin, dataMax] = range(
    all.map(([, y]) => y),
    [0, 1],
  )
  // The data's range rounded out to whole ticks, unless the caller fixes an end.
  const yStep = niceStep((options.yMax ?? dataMax) - (options.yMin ?? dataMin), Y_TICKS)
  const yMin = options.yMin ?? Math.floor(dataMin / yStep) * yStep
  const yMax = options.yMax ?? Math.ceil(dataMax / yStep) * yStep
  const formatY = options.formatY ?? formatTick
  const sx = (x: number) => MARGIN.left + ((x - xMin) / (xMax - xMin)) * PLOT_WIDTH
  const sy = (y: number) => MARGIN.top + PLOT_HEIGHT - ((y - yMin) / (yMax - yMin)) * PLOT_HEIGHT

  const parts: string[] = []
  for (const value of ticks(yMin, yMax, yStep)) {
    const y = coordinate(sy(value))
    parts.push(`<line class="grid" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y}" y2="${y}"/>`)
    parts.push(`<text class="tick" x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeHtml(formatY(value))}</text>`)
  }
  for (const value of ticks(xMin, xMax, niceStep(xMax - xMin, X_TICKS))) {
    const x = coordinate(sx(value))
    parts.push(`<line class="grid" x1="${x}" x2="${x}" y1="${MARGIN.top}" y2="${MARGIN.top + PLOT_HEIGHT}"/>`)
    parts.push(`<text class="tick" x="${x}" y="${MARGIN.top + PLOT_HEIGHT + 18}" text-anchor="middle">${escapeHtml(formatTick(value))}</text>`)
  }
  parts.push(`<rect class="frame" x="${MARGIN.left}" y="${MARGIN.top}" width="${PLOT_WIDTH}" height="${PLOT_HEIGHT}"/>`)
  parts.push(`<text class="axis-label" x="${MARGIN.left + PLOT_WIDTH / 2}" y="${HEIGHT - 6}" text-anchor="middle">${escapeHtml(options.xLabel)}</text>`)
  for (const series of options.series) {
    if (series.points.length === 0) continue
    const points = series.points.map(([x, y]) => `${coordinate(sx(x))},${coordinate(sy(y))}`).join(' ')
    parts.push(
      `<polyline class="series${series.faint ? ' faint' : ''}" data-series="${escapeHtml(series.id)}" points="${points}" stroke="${series.colour}"/>`,
    )
    if (series.markers) {
      for (const [x, y] of series.points) {
        parts.push(
          `<circle class="marker" cx="${coordinate(sx(x))}" cy="${coordinate(sy(y))}" r="${MARKER_RADIUS}" fill="${series.colour}">` +
            `<title>${escapeHtml(`${series.label}: ${formatY(y)} at ${options.xLabel.toLowerCase()} ${formatTick(x)}`)}</title></circle>`,
        )
      }
    }
  }
  const legend = options.series
    .filter((series) => !series.hideInLegend && series.points.length > 0)
    .map((series) => `<li><span class="swatch" style="background:${series.colour}"></span>${escapeHtml(series.label)}</li>`)
    .join('')
  return (
    `<figure class="chart" id="${escapeHtml(options.id)}"><figcaption>${escapeHtml(options.title)}</figcaption>` +
    `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(options.title)}" preserveAspectRatio="xMidYMid meet">${parts.join('')}</svg>` +
    `<ul class="legend">${legend}</ul></figure>`
  )
}
