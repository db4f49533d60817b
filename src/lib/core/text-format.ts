import protobuf from 'protobufjs'

import {UserError} from './errors.js'

/**
 * A strict reader of protobuf text format (what TF Serving's --model_config_file is written in),
 * checked against a message type loaded by protobufjs, which has no text-format parser of its
 * own. Every field must exist in the schema; a singular field or a oneof appears once; a map key
 * once; enum values are names (or numbers) the schema declares; numbers must fit their field's
 * type; strings are quoted. Returns the message as a plain object, field names as in the .proto
 * (load it with keepCase), 64-bit integers as numbers (refused beyond 2^53), enums as names, maps
 * as objects; absent fields are absent. Errors are UserErrors naming `source:line:column`.
 *
 * Not supported (refused with a message): extensions and `[type.googleapis.com/…]` Any expansion.
 */

type TokenKind = 'identifier' | 'number' | 'string' | 'symbol'

interface Token {
  kind: TokenKind
  text: string
  /** A string literal's decoded value. */
  value?: string
  offset: number
}

const SYMBOLS = '{}[]<>:;,'
const ESCAPES: Record<string, string> = {n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?'}
const INTEGER_TYPES: Record<string, {min: number; max: number}> = {
  int32: {min: -(2 ** 31), max: 2 ** 31 - 1},
  sint32: {min: -(2 ** 31), max: 2 ** 31 - 1},
  sfixed32: {min: -(2 ** 31), max: 2 ** 31 - 1},
  uint32: {min: 0, max: 2 ** 32 - 1},
  fixed32: {min: 0, max: 2 ** 32 - 1},
  int64: {min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER},
  sint64: {min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER},
  sfixed64: {min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER},
  uint64: {min: 0, max: Number.MAX_SAFE_INTEGER},
  fixed64: {min: 0, max: Number.MAX_SAFE_INTEGER},
}
const FLOAT_TYPES = new Set(['float', 'double'])
const BOOL_VALUES: Record<string, boolean> = {true: true, True: true, t: true, '1': true, false: false, False: false, f: false, '0': false}
const NUMBER_PATTERN = /^-?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[fF]?)/

class Parser {
  private readonly tokens: Token[] = []
  private position = 0

  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {
    this.tokenize()
  }

  parseMessage(type: protobuf.Type): Record<string, unknown> {
    const message = this.readFields(type, undefined)
    if (this.position < this.tokens.length) throw this.error(this.tokens[this.position], `unexpected "${this.tokens[this.position].text}"`)
    return message
  }

  private readFields(type: protobuf.Type, close: string | undefined): Record<string, unknown> {
    const message: Record<string, unknown> = {}
    const setOneofs = new Map<string, string>()
    for (;;) {
      const token = this.peek()
      if (token === undefined) {
        if (close !== undefined) throw this.error(undefined, `"${close}" expected before the end of the file (in ${type.fullName.slice(1)})`)
        return message
      }
      if (close !== undefined && token.text === close && token.kind === 'symbol') {
        this.position++
        return message
      }
      if (token.kind !== 'identifier') {
        if (token.text === '[') throw this.error(token, 'extensions and Any expansions are not supported')
        throw this.error(token, `a field name expected, got "${token.text}"`)
      }
      this.position++
      const field = type.fields[token.text]
      if (!field) {
        const known = Object.keys(type.fields).join(', ')
        throw this.error(token, `${type.fullName.slice(1)} has no field "${token.text}" (its fields: ${known})`)
      }
      field.resolve()
      if (field.partOf) {
        const other = setOneofs.get(field.partOf.name)
        if (other !== undefined && other !== field.name) throw this.error(token, `"${field.name}" and "${other}" are both set, but only one of oneof ${field.partOf.name} may be`)
        setOneofs.set(field.partOf.name, field.name)
      }
      this.readField(message, field, token)
      const separator = this.peek()
      if (separator && separator.kind === 'symbol' && (separator.text === ';' || separator.text === ',')) this.position++
    }
  }

  private readField(message: Record<string, unknown>, field: protobuf.Field, nameToken: Token): void {
    const isMap = field instanceof protobuf.MapField
    const isMessage = isMap || field.resolvedType instanceof protobuf.Type
    if (!this.consumeSymbol(':') && !isMessage) throw this.error(this.peek() ?? nameToken, `":" expected after ${field.name}`)

    const readOne = (): unknown => {
      if (isMap) return this.readMapEntry(field as protobuf.MapField)
      if (isMessage) return this.readMessageValue(field.resolvedType as protobuf.Type)
      return this.readScalar(field.name, field.type, field.resolvedType)
    }
    const values: unknown[] = []
    const open = this.peek()
    if (open?.kind === 'symbol' && open.text === '[') {
      if (!field.repeated && !isMap) throw this.error(open, `${field.name} is not repeated; a list is not allowed`)
      this.position++
      if (!this.consumeSymbol(']')) {
        for (;;) {
          values.push(readOne())
          if (this.consumeSymbol(']')) break
          this.expectSymbol(',')
        }
      }
    } else {
      values.push(readOne())
    }

    if (isMap) {
      const map = (message[field.name] ??= {}) as Record<string, unknown>
      for (const {key, value} of values as Array<{key: unknown; value: unknown}>) {
        if (String(key) in map) throw this.error(nameToken, `${field.name} has key ${JSON.stringify(key)} twice`)
        map[String(key)] = value
      }
    } else if (field.repeated) {
      ;((message[field.name] ??= []) as unknown[]).push(...values)
    } else {
      if (field.name in message) throw this.error(nameToken, `${field.name} is set twice`)
      message[field.name] = values[0]
    }
  }

  private readMessageValue(type: protobuf.Type): Record<string, unknown> {
    return this.readFields(type, this.openBrace(type.name))
  }

  /** The opening "{" or "<" of a message value; returns the matching closer. */
  private openBrace(what: string): string {
    const open = this.next(`"{" expected for ${what}`)
    if (open.kind !== 'symbol' || (open.text !== '{' && open.text !== '<')) throw this.error(open, `"{" expected for ${what}, got "${open.text}"`)
    return open.text === '{' ? '}' : '>'
  }

  /** A map entry, `{ key: K value: V }`: each once; an absent one is its type's default. */
  private readMapEntry(field: protobuf.MapField): {key: unknown; value: unknown} {
    const close = this.openBrace(`an entry of ${field.name}`)
    const entry: {key?: unknown; value?: unknown} = {}
    const valueIsMessage = field.resolvedType instanceof protobuf.Type
    while (!this.consumeSymbol(close)) {
      const token = this.next(`"${close}" expected`)
      if (token.kind !== 'identifier' || (token.text !== 'key' && token.text !== 'value')) {
        throw this.error(token, `an entry of ${field.name} holds "key" and "value", got "${token.text}"`)
      }
      if (token.text in entry) throw this.error(token, `${token.text} is set twice in an entry of ${field.name}`)
      const colon = this.consumeSymbol(':')
      if (token.text === 'key') {
        if (!colon) throw this.error(this.peek() ?? token, `":" expected after key`)
        entry.key = this.readScalar(`${field.name} key`, field.keyType, null)
      } else if (valueIsMessage) {
        entry.value = this.readMessageValue(field.resolvedType as protobuf.Type)
      } else {
        if (!colon) throw this.error(this.peek() ?? token, `":" expected after value`)
        entry.value = this.readScalar(`${field.name} value`, field.type, field.resolvedType)
      }
      if (this.peek()?.kind === 'symbol' && (this.peek()!.text === ';' || this.peek()!.text === ',')) this.position++
    }
    return {key: entry.key ?? defaultOf(field.keyType), value: entry.value ?? (valueIsMessage ? {} : defaultOf(field.type))}
  }

  /** A scalar (or enum) value of type `type`, for the field or map part named `name`. */
  private readScalar(name: string, type: string, resolvedType: protobuf.Type | protobuf.Enum | null): unknown {
    const token = this.next(`a value expected for ${name}`)
    if (resolvedType instanceof protobuf.Enum) {
      const values = resolvedType.values
      const byName = token.kind === 'identifier' && token.text in values ? token.text : undefined
      const byNumber = token.kind === 'number' ? resolvedType.valuesById[Number(token.text)] : undefined
      const value = byName ?? byNumber
      if (value === undefined) throw this.error(token, `${name}: "${token.text}" is not one of ${Object.keys(values).join(', ')}`)
      return value
    }
    if (type === 'string' || type === 'bytes') {
      if (token.kind !== 'string') throw this.error(token, `${name} takes a quoted string, got ${token.text}`)
      let value = token.value!
      // Adjacent string literals are one string, as in C.
      while (this.peek()?.kind === 'string') value += this.tokens[this.position++].value
      return value
    }
    if (type === 'bool') {
      if (token.kind === 'string' || !(token.text in BOOL_VALUES)) throw this.error(token, `${name} takes true or false, got ${token.text}`)
      return BOOL_VALUES[token.text]
    }
    const range = INTEGER_TYPES[type]
    if (range) {
      const isInteger = token.kind === 'number' && /^-?(?:0[xX][0-9a-fA-F]+|0|[1-9]\d*)$/.test(token.text)
      const value = isInteger ? Number(token.text) : Number.NaN
      if (!Number.isInteger(value)) throw this.error(token, `${name} takes a whole number (${type}), got ${token.text}`)
      if (value < range.min || value > range.max) throw this.error(token, `${name}: ${token.text} is out of range for ${type}`)
      return value
    }
    if (FLOAT_TYPES.has(type)) {
      if (token.kind === 'identifier' && /^-?(inf|infinity|nan)$/i.test(token.text)) return /nan/i.test(token.text) ? Number.NaN : token.text.startsWith('-') ? -Infinity : Infinity
      if (token.kind !== 'number') throw this.error(token, `${name} takes a number (${type}), got ${token.text}`)
      return Number(token.text.replace(/[fF]$/, ''))
    }
    throw this.error(token, `${name}: type ${type} is not supported`)
  }

  private tokenize(): void {
    const {text} = this
    let i = 0
    while (i < text.length) {
      const c = text[i]
      if (/\s/.test(c)) {
        i++
      } else if (c === '#') {
        while (i < text.length && text[i] !== '\n') i++
      } else if (SYMBOLS.includes(c) || c === '/' || (c === '.' && !/\d/.test(text[i + 1] ?? ''))) {
        // "/" and a "." that starts no number appear only in extension and Any names, which the parser refuses.
        this.tokens.push({kind: 'symbol', text: c, offset: i})
        i++
      } else if (c === '"' || c === "'") {
        i = this.readString(i, c)
      } else if (/[-0-9.]/.test(c)) {
        const match = NUMBER_PATTERN.exec(text.slice(i))
        if (match) {
          this.tokens.push({kind: 'number', text: match[0], offset: i})
          i += match[0].length
        } else if (c === '-' && /^-[A-Za-z]/.test(text.slice(i, i + 2))) {
          const word = /^-[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))![0]
          this.tokens.push({kind: 'identifier', text: word, offset: i})
          i += word.length
        } else {
          throw this.errorAt(i, `unexpected "${c}"`)
        }
      } else if (/[A-Za-z_]/.test(c)) {
        const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))![0]
        this.tokens.push({kind: 'identifier', text: word, offset: i})
        i += word.length
      } else {
        throw this.errorAt(i, `unexpected "${c}"`)
      }
    }
  }

  /** Reads the string literal opened by `quote` at `start`; returns where it ends. */
  private readString(start: number, quote: string): number {
    const {text} = this
    let value = ''
    let i = start + 1
    for (;;) {
      if (i >= text.length || text[i] === '\n') throw this.errorAt(start, 'unterminated string')
      const c = text[i]
      if (c === quote) break
      if (c !== '\\') {
        value += c
        i++
        continue
      }
      const escaped = text[i + 1]
      if (escaped in ESCAPES) {
        value += ESCAPES[escaped]
        i += 2
      } else if (/[0-7]/.test(escaped)) {
        const digits = /^[0-7]{1,3}/.exec(text.slice(i + 1))![0]
        value += String.fromCharCode(parseInt(digits, 8))
        i += 1 + digits.length
      } else if (escaped === 'x' && /^[0-9a-fA-F]{1,2}/.test(text.slice(i + 2))) {
        const digits = /^[0-9a-fA-F]{1,2}/.exec(text.slice(i + 2))![0]
        value += String.fromCharCode(parseInt(digits, 16))
        i += 2 + digits.length
      } else {
        throw this.errorAt(i, `unknown escape "\\${escaped ?? ''}"`)
      }
    }
    this.tokens.push({kind: 'string', text: text.slice(start, i + 1), value, offset: start})
    return i + 1
  }

  private peek(): Token | undefined {
    return this.tokens[this.position]
  }

  private next(expected: string): Token {
    const token = this.tokens[this.position++]
    if (!token) throw this.error(undefined, `${expected} before the end of the file`)
    return token
  }

  private consumeSymbol(symbol: string): boolean {
    const token = this.peek()
    if (token?.kind === 'symbol' && token.text === symbol) {
      this.position++
      return true
    }
    return false
  }

  private expectSymbol(symbol: string): void {
    const token = this.next(`"${symbol}" expected`)
    if (token.kind !== 'symbol' || token.text !== symbol) throw this.error(token, `"${symbol}" expected, got "${token.text}"`)
  }

  private error(token: Token | undefined, message: string): UserError {
    return this.errorAt(token?.offset ?? this.text.length, message)
  }

  private errorAt(offset: number, message: string): UserError {
    const before = this.text.slice(0, offset)
    const line = before.split('\n').length
    const column = offset - before.lastIndexOf('\n')
    return new UserError(`${this.source}:${line}:${column}: ${message}`)
  }
}

function defaultOf(type: string): unknown {
  if (type === 'string' || type === 'bytes') return ''
  if (type === 'bool') return false
  return 0
}

/** `text` (protobuf text format) as a message of `type`; a UserError naming `source:line:column` when it is not one. */
export function parseTextFormat(text: string, type: protobuf.Type, source: string): Record<string, unknown> {
  return new Parser(text, source).parseMessage(type)
}
