import protobuf from 'protobufjs'

/**
 * A strict reader of protobuf text format (what Triton's config.pbtxt is written in), checked
 * against a message type loaded by protobufjs (which has no text-format parser of its own):
 * every field must exist in the schema, singular fields appear once, enum values must be
 * names the schema declares, numbers must fit their field's type. Returns the message as a plain
 * object (field names as in the .proto, enums as names) or throws saying where it went wrong.
 */

type Token = {kind: 'ident' | 'number' | 'string' | 'punct'; text: string; value?: string | number; at: number}

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (/\s/.test(c)) {
      i++
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++
    } else if ('{}[]:,<>;'.includes(c)) {
      tokens.push({kind: 'punct', text: c, at: i})
      i++
    } else if (c === '"' || c === "'") {
      let j = i + 1
      let value = ''
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\n') throw new Error(`unterminated string at ${i}`)
        if (text[j] === '\\') {
          const escaped = text[j + 1]
          const map: Record<string, string> = {n: '\n', t: '\t', r: '\r', '"': '"', "'": "'", '\\': '\\'}
          if (!(escaped in map)) throw new Error(`unsupported escape \\${escaped} at ${j}`)
          value += map[escaped]
          j += 2
        } else {
          value += text[j++]
        }
      }
      if (j >= text.length) throw new Error(`unterminated string at ${i}`)
      tokens.push({kind: 'string', text: text.slice(i, j + 1), value, at: i})
      i = j + 1
    } else if (/[-0-9.]/.test(c)) {
      const match = /^-?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)/.exec(text.slice(i))
      if (!match) throw new Error(`bad number at ${i}`)
      tokens.push({kind: 'number', text: match[0], value: Number(match[0]), at: i})
      i += match[0].length
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!
      tokens.push({kind: 'ident', text: match[0], at: i})
      i += match[0].length
    } else {
      throw new Error(`unexpected character ${JSON.stringify(c)} at ${i}`)
    }
  }
  return tokens
}

const INTEGER_TYPES = new Set(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64'])
const FLOAT_TYPES = new Set(['float', 'double'])

class Parser {
  private position = 0
  constructor(private readonly tokens: Token[]) {}

  parseMessage(type: protobuf.Type, closing?: string): Record<string, unknown> {
    const result: Record<string, unknown> = {}
    for (;;) {
      const token = this.tokens[this.position]
      if (!token) {
        if (closing) throw new Error(`missing "${closing}" closing ${type.name}`)
        return result
      }
      if (closing && token.kind === 'punct' && token.text === closing) {
        this.position++
        return result
      }
      if (token.kind !== 'ident') throw new Error(`expected a field name of ${type.name} at ${token.at}, got ${token.text}`)
      this.position++
      const field = type.fields[token.text]
      if (!field) throw new Error(`${type.name} has no field "${token.text}" (at ${token.at})`)
      field.resolve()
      const values = this.parseFieldValues(field)
      if (field.repeated || field.map) {
        result[field.name] = [...((result[field.name] as unknown[]) ?? []), ...values]
      } else {
        if (field.name in result) throw new Error(`singular field ${type.name}.${field.name} given twice`)
        if (values.length !== 1) throw new Error(`singular field ${type.name}.${field.name} given a list`)
        result[field.name] = values[0]
      }
      if (!this.skip(',')) this.skip(';')
    }
  }

  private parseFieldValues(field: protobuf.Field): unknown[] {
    const isMessage = field.resolvedType instanceof protobuf.Type
    const colon = this.skip(':')
    if (!colon && !isMessage) throw new Error(`expected ":" after ${field.name}`)
    if (this.skip('[')) {
      if (!field.repeated) throw new Error(`a list given to singular field ${field.name}`)
      const values: unknown[] = []
      if (this.skip(']')) return values
      for (;;) {
        values.push(this.parseValue(field))
        if (this.skip(']')) return values
        if (!this.skip(',')) throw new Error(`expected "," or "]" in the list of ${field.name}`)
      }
    }
    return [this.parseValue(field)]
  }

  private parseValue(field: protobuf.Field): unknown {
    const resolved = field.resolvedType
    if (resolved instanceof protobuf.Type) {
      const closing = this.skip('{') ? '}' : this.skip('<') ? '>' : undefined
      if (!closing) throw new Error(`expected "{" for message field ${field.name}`)
      return this.parseMessage(resolved, closing)
    }
    const token = this.tokens[this.position++]
    if (!token) throw new Error(`missing value of ${field.name}`)
    if (resolved instanceof protobuf.Enum) {
      if (token.kind !== 'ident' || !(token.text in resolved.values)) {
        throw new Error(`${token.text} is not a value of enum ${resolved.name} (field ${field.name})`)
      }
      return token.text
    }
    if (field.type === 'string' || field.type === 'bytes') {
      if (token.kind !== 'string') throw new Error(`field ${field.name} takes a string, got ${token.text}`)
      return token.value
    }
    if (field.type === 'bool') {
      if (token.kind !== 'ident' || !['true', 'false'].includes(token.text)) throw new Error(`field ${field.name} takes true or false, got ${token.text}`)
      return token.text === 'true'
    }
    if (token.kind !== 'number') throw new Error(`field ${field.name} (${field.type}) takes a number, got ${token.text}`)
    const value = token.value as number
    if (INTEGER_TYPES.has(field.type) && !Number.isInteger(value)) throw new Error(`field ${field.name} (${field.type}) takes an integer, got ${token.text}`)
    if (field.type.startsWith('uint') && value < 0) throw new Error(`field ${field.name} (${field.type}) cannot be negative`)
    if (!INTEGER_TYPES.has(field.type) && !FLOAT_TYPES.has(field.type)) throw new Error(`unsupported field type ${field.type}`)
    return value
  }

  private skip(text: string): boolean {
    const token = this.tokens[this.position]
    if (token?.kind === 'punct' && token.text === text) {
      this.position++
      return true
    }
    return false
  }
}

export function parseTextFormat(text: string, type: protobuf.Type): Record<string, unknown> {
  return new Parser(tokenize(text)).parseMessage(type)
}
