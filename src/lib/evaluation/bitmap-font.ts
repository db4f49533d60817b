/**
 * A tiny built-in bitmap font for captions drawn into PNGs: the ten digits (3×5) and an arrow
 * (5×5). '#' is ink. No font files needed.
 */
export const GLYPH_HEIGHT = 5

const GLYPHS: Record<string, string[]> = {
  '0': ['###', '#.#', '#.#', '#.#', '###'],
  '1': ['.#.', '##.', '.#.', '.#.', '###'],
  '2': ['###', '..#', '###', '#..', '###'],
  '3': ['###', '..#', '.##', '..#', '###'],
  '4': ['#.#', '#.#', '###', '..#', '..#'],
  '5': ['###', '#..', '###', '..#', '###'],
  '6': ['###', '#..', '###', '#.#', '###'],
  '7': ['###', '..#', '.#.', '.#.', '.#.'],
  '8': ['###', '#.#', '###', '#.#', '###'],
  '9': ['###', '#.#', '###', '..#', '###'],
  '→': ['.....', '...#.', '#####', '...#.', '.....'],
}

export function glyphOf(character: string): string[] {
  const glyph = GLYPHS[character]
  if (!glyph) throw new RangeError(`the built-in font has no glyph for "${character}"`)
  return glyph
}

export function glyphWidth(character: string): number {
  return glyphOf(character)[0].length
}
