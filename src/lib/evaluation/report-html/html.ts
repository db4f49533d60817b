/** Text for HTML: element content and attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`)
}

/** A number with a fixed count of decimals, or a dash for a missing one. */
export function fixed(value: number | null | undefined, decimals = 4): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(decimals)
}

/** 0.9871 → "98.71%". */
export function percent(value: number | null | undefined, decimals = 2): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : `${(value * 100).toFixed(decimals)}%`
}

/** A table from a header row and rows of cell HTML (already escaped), in a horizontally scrolling box. */
export function htmlTable(header: string[], rows: string[][], options: {className?: string; numericFrom?: number} = {}): string {
  const numericFrom = options.numericFrom ?? Number.POSITIVE_INFINITY
  const cell = (tag: 'th' | 'td', html: string, column: number) => `<${tag}${column >= numericFrom ? ' class="num"' : ''}>${html}</${tag}>`
  return (
    `<div class="scroll"><table${options.className ? ` class="${options.className}"` : ''}>` +
    `<thead><tr>${header.map((text, column) => cell('th', escapeHtml(text), column)).join('')}</tr></thead>` +
    `<tbody>${rows.map((row) => `<tr>${row.map((html, column) => cell('td', html, column)).join('')}</tr>`).join('')}</tbody>` +
    `</table></div>`
  )
}

/** Two columns: what, value (value HTML already escaped). */
export function definitionTable(rows: Array<[string, string]>): string {
  return `<div class="scroll"><table class="facts"><tbody>${rows
    .map(([name, value]) => `<tr><th scope="row">${escapeHtml(name)}</th><td>${value}</td></tr>`)
    .join('')}</tbody></table></div>`
}
