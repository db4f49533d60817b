import {ConfusionMatrix} from '../metrics.js'
import {escapeHtml} from './html.js'

const CELL = 40
const LABEL_SPACE = 44
const TITLE_SPACE = 18
const LIGHTEST = 0.08

/**
 * The confusion matrix as an SVG heat map (rows: true digit, columns: predicted), coloured as
 * eval's terminal heat map is: the diagonal green by the digit's recall, errors red by their
 * share of the largest error. Each cell says its count, and its tooltip says what it means.
 */
export function confusionMatrixSvg(matrix: ConfusionMatrix): string {
  const classes = matrix.length
  const size = LABEL_SPACE + classes * CELL
  let largestError = 0
  matrix.forEach((row, t) => row.forEach((count, p) => t !== p && (largestError = Math.max(largestError, count))))
  const parts: string[] = []
  parts.push(`<text class="axis-label" x="${LABEL_SPACE + (classes * CELL) / 2}" y="12" text-anchor="middle">predicted digit</text>`)
  parts.push(
    `<text class="axis-label" x="12" y="${TITLE_SPACE + LABEL_SPACE + (classes * CELL) / 2 - 20}" text-anchor="middle" transform="rotate(-90 12 ${TITLE_SPACE + LABEL_SPACE + (classes * CELL) / 2 - 20})">true digit</text>`,
  )
  for (let digit = 0; digit < classes; digit++) {
    const centre = LABEL_SPACE + digit * CELL + CELL / 2
    parts.push(`<text class="tick" x="${centre}" y="${TITLE_SPACE + LABEL_SPACE - 10}" text-anchor="middle">${digit}</text>`)
    parts.push(`<text class="tick" x="${LABEL_SPACE - 10}" y="${TITLE_SPACE + LABEL_SPACE + digit * CELL + CELL / 2}" text-anchor="end" dominant-baseline="middle">${digit}</text>`)
  }
  matrix.forEach((row, trueLabel) => {
    const support = row.reduce((a, b) => a + b, 0)
    row.forEach((count, predicted) => {
      const diagonal = trueLabel === predicted
      const share = count === 0 ? 0 : diagonal ? count / support : count / largestError
      const strength = count === 0 ? 0 : LIGHTEST + (1 - LIGHTEST) * share
      const fill = diagonal ? `rgba(30,142,62,${strength.toFixed(3)})` : `rgba(217,48,37,${strength.toFixed(3)})`
      const x = LABEL_SPACE + predicted * CELL
      const y = TITLE_SPACE + LABEL_SPACE + trueLabel * CELL
      const what = diagonal ? `${count} of ${support} ${trueLabel}s correct` : `${count} ${trueLabel}${count === 1 ? '' : 's'} taken for ${predicted}`
      parts.push(
        `<g class="cell${diagonal ? ' diagonal' : ''}"><rect x="${x}" y="${y}" width="${CELL}" height="${CELL}" fill="${count === 0 ? 'transparent' : fill}"><title>${escapeHtml(what)}</title></rect>` +
          (count === 0 ? '' : `<text x="${x + CELL / 2}" y="${y + CELL / 2}" text-anchor="middle" dominant-baseline="middle"${strength > 0.55 ? ' class="on-dark"' : ''}>${count}</text>`) +
          `</g>`,
      )
    })
  })
  parts.push(`<rect class="frame" x="${LABEL_SPACE}" y="${TITLE_SPACE + LABEL_SPACE}" width="${classes * CELL}" height="${classes * CELL}"/>`)
  return `<svg class="confusion" viewBox="0 0 ${size + 4} ${size + TITLE_SPACE + 4}" role="img" aria-label="Confusion matrix: rows are true digits, columns predicted digits">${parts.join('')}</svg>`
}
