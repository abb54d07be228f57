/**
 * What JSON.parse does not tell: where a JSON text's first syntax error is (the YAML parser that
 * gives positions would accept `tru`, comments or trailing commas, so this check keeps `.json`
 * files honest JSON), and whether a valid JSON text repeats a key in one object.
 */

/** Where and why a text is not JSON. */
export interface JsonSyntaxError {
  /** 0-based offset into the text. */
  readonly offset: number
  readonly message: string
}

interface Cursor {
  readonly text: string
  pos: number
}

class JsonFail extends Error {
  readonly offset: number
  constructor(offset: number, message: string) {
    super(message)
    this.offset = offset
  }
}

/**
 * The first syntax error of `text` as JSON (RFC 8259), or null when it is valid JSON. Only run
 * for text JSON.parse refused, to say where and why; duplicate keys are `findDuplicateKey`'s.
 */
export function findJsonSyntaxError(text: string): JsonSyntaxError | null {
  const cur: Cursor = { text, pos: 0 }
  try {
    skipSpace(cur)
    readValue(cur)
    skipSpace(cur)
    if (cur.pos < text.length) throw new JsonFail(cur.pos, 'unexpected content after the value')
    return null
  } catch (err) {
    if (err instanceof JsonFail) return { offset: err.offset, message: err.message }
    // Only a RangeError (stack exhausted by absurd nesting) can get here.
    return { offset: cur.pos, message: 'nesting too deep' }
  }
}

function skipSpace(cur: Cursor): void {
  while (cur.pos < cur.text.length && ' \t\n\r'.includes(cur.text[cur.pos] ?? '')) cur.pos++
}

function unexpected(cur: Cursor, expected: string): JsonFail {
  const ch = cur.text[cur.pos]
  const found = ch === undefined ? 'end of input' : JSON.stringify(ch)
  return new JsonFail(cur.pos, `expected ${expected}, found ${found}`)
}

function readValue(cur: Cursor): void {
  const ch = cur.text[cur.pos]
  if (ch === '{') return readContainer(cur, '}', readMember)
  if (ch === '[') return readContainer(cur, ']', readValue)
  if (ch === '"') return readString(cur)
  if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return readNumber(cur)
  for (const word of ['true', 'false', 'null']) {
    if (cur.text.startsWith(word, cur.pos)) {
      cur.pos += word.length
      return
    }
  }
  throw unexpected(cur, 'a value')
}

function readContainer(cur: Cursor, close: string, readItem: (cur: Cursor) => void): void {
  cur.pos++
  skipSpace(cur)
  if (cur.text[cur.pos] === close) {
    cur.pos++
    return
  }
  for (;;) {
    skipSpace(cur)
    if (cur.text[cur.pos] === close) throw new JsonFail(cur.pos, 'trailing comma')
    readItem(cur)
    skipSpace(cur)
    const ch = cur.text[cur.pos]
    cur.pos++
    if (ch === close) return
    if (ch !== ',') {
      cur.pos--
      throw unexpected(cur, `"," or "${close}"`)
    }
  }
}

function readMember(cur: Cursor): void {
  if (cur.text[cur.pos] !== '"') throw unexpected(cur, 'a double-quoted key')
  readString(cur)
  skipSpace(cur)
  if (cur.text[cur.pos] !== ':') throw unexpected(cur, '":"')
  cur.pos++
  skipSpace(cur)
  readValue(cur)
}

function readString(cur: Cursor): void {
  const start = cur.pos
  cur.pos++
  for (;;) {
    const ch = cur.text[cur.pos]
    if (ch === undefined) throw new JsonFail(start, 'unterminated string')
    if (ch === '"') break
    if (ch < ' ') throw new JsonFail(cur.pos, 'control character in string')
    if (ch === '\\') readEscape(cur)
    else cur.pos++
  }
  cur.pos++
}

function readEscape(cur: Cursor): void {
  const esc = cur.text[cur.pos + 1] ?? ''
  if (esc === 'u' && /^[0-9a-fA-F]{4}$/.test(cur.text.slice(cur.pos + 2, cur.pos + 6))) {
    cur.pos += 6
  } else if (esc !== '' && '"\\/bfnrt'.includes(esc)) {
    cur.pos += 2
  } else {
    throw new JsonFail(cur.pos, 'invalid escape in string')
  }
}

const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y

function readNumber(cur: Cursor): void {
  NUMBER.lastIndex = cur.pos
  const m = NUMBER.exec(cur.text)
  if (m === null) throw new JsonFail(cur.pos, 'invalid number')
  cur.pos += m[0].length
  const next = cur.text[cur.pos]
  if (next !== undefined && /[0-9a-zA-Z.+-]/.test(next))
    throw new JsonFail(cur.pos, 'invalid number')
}

/**
 * In text that is valid JSON (JSON.parse accepted it), the first object key repeated in the same
 * object, or null. JSON.parse keeps the last of two equal keys silently; a config must not. A
 * lean scan for what JSON.parse does not check: strings are skipped with indexOf, keys compared
 * decoded (`"a"` and `"\u0061"` are the same key).
 */
export function findDuplicateKey(text: string): JsonSyntaxError | null {
  // One entry per open container: the keys of an object, null for an array.
  const stack: (Set<string> | null)[] = []
  const n = text.length
  let i = 0
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      const start = i
      let end = text.indexOf('"', i + 1)
      while (escaped(text, end)) end = text.indexOf('"', end + 1)
      i = end + 1
      while (i < n && isSpace(text.charCodeAt(i))) i++
      if (text.charCodeAt(i) !== COLON) continue
      const keys = stack[stack.length - 1]
      const raw = text.slice(start, end + 1)
      const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1)
      if (keys?.has(key) === true) return { offset: start, message: `duplicate key ${raw}` }
      keys?.add(key)
      i++
      continue
    }
    if (c === OPEN_BRACE) stack.push(new Set())
    else if (c === OPEN_BRACKET) stack.push(null)
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) stack.pop()
    i++
  }
  return null
}

const QUOTE = 0x22
const COLON = 0x3a
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d

/** True when the quote at `at` is escaped: an odd number of backslashes before it. */
function escaped(text: string, at: number): boolean {
  let backslashes = 0
  for (let j = at - 1; text.charCodeAt(j) === 0x5c; j--) backslashes++
  return backslashes % 2 === 1
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
}
