/**
 * Request-target normalisation (RFC 3986 §6.2.2): decides the one path a request is both matched
 * and forwarded with. Pure, no I/O; hot path (runs once per request, before routing).
 */

/** A request-target split into its parts, the path normalised. */
export interface NormalizedTarget {
  /** Normalised absolute path; always starts with `/`. */
  readonly path: string
  /** `''`, or the query including its leading `?`, verbatim (never normalised). */
  readonly query: string
  /** Lower-cased `host[:port]` of an absolute-form target (`http://host/…`), else null. */
  readonly authority: string | null
}

const SLASH = 0x2f
const DOT = 0x2e
const PERCENT = 0x25
const QUESTION = 0x3f
const HASH = 0x23
const AT = 0x40
const DEL = 0x7f
const SPACE = 0x20
const HEX_DIGITS = '0123456789ABCDEF'
const ABSOLUTE_FORM = /^https?:\/\//i

/**
 * Normalises a request-target in origin-form (`/a/b?x`) or absolute-form (`http://h:1/a?x`,
 * `https://…`): percent-decodes unreserved characters only (other escapes kept, hex upper-cased),
 * then removes dot segments (RFC 3986 §5.2.4), so `%2e%2e` counts as `..`. Empty segments (`//`)
 * are kept. Returns null, for the caller to answer 400, when the target is in another form (`*`,
 * authority-form, empty, relative), holds an invalid escape (`%zz`, `%4`), a control character,
 * a space or a `#` in the path, userinfo in the authority, or climbs above the root (`/../x`).
 */
export function normalizePath(target: string): NormalizedTarget | null {
  const first = target.charCodeAt(0)
  if (first === SLASH) return normalizeFrom(target, 0, null)
  // absolute-form is what proxies send (RFC 9112 §3.2.2); rare enough to parse without care for cost
  if (ABSOLUTE_FORM.test(target)) return normalizeAbsoluteForm(target)
  return null
}

function normalizeAbsoluteForm(target: string): NormalizedTarget | null {
  const start = target.indexOf('//') + 2
  let end = start
  for (; end < target.length; end++) {
    const c = target.charCodeAt(end)
    if (c === SLASH || c === QUESTION) break
    // RFC 9110 §4.2.4: userinfo in an http(s) URI is to be treated as an error (phishing vector)
    if (c === AT || c === HASH || c <= SPACE || c === DEL) return null
  }
  // RFC 9110 §4.2.1: an http URI with an empty host is invalid
  if (end === start) return null
  const authority = target.slice(start, end).toLowerCase()
  // RFC 9112 §3.2.2: an empty path in absolute-form means `/`
  if (end === target.length) return { path: '/', query: '', authority }
  if (target.charCodeAt(end) === QUESTION) return { path: '/', query: target.slice(end), authority }
  return normalizeFrom(target, end, authority)
}

/** `target[start]` is the `/` that begins the path. */
function normalizeFrom(
  target: string,
  start: number,
  authority: string | null,
): NormalizedTarget | null {
  // hot path: a single scan finds the query and tells whether the path needs any rewriting; a
  // path with no `%` and no dot segment is returned as the very string received (no copy)
  const length = target.length
  let end = length
  let needsWork = false
  for (let i = start; i < length; i++) {
    const c = target.charCodeAt(i)
    if (c === QUESTION) {
      end = i
      break
    }
    if (c === PERCENT) needsWork = true
    else if (c === DOT) needsWork ||= isDotSegmentAt(target, i)
    // RFC 9112 §3.2: a request-target carries no fragment, no whitespace, no control characters
    else if (c <= SPACE || c === DEL || c === HASH) return null
  }
  let path = start === 0 && end === length ? target : target.slice(start, end)
  const query = end === length ? '' : target.slice(end)
  if (needsWork) {
    const decoded = decodeUnreserved(path)
    if (decoded === null) return null
    const resolved = removeDotSegments(decoded)
    if (resolved === null) return null
    path = resolved
  }
  return { path, query, authority }
}

/** Whether the `.` at `i` starts a `.` or `..` segment (the scan stops at `?`, so it ends one). */
function isDotSegmentAt(target: string, i: number): boolean {
  if (target.charCodeAt(i - 1) !== SLASH) return false
  let next = target.charCodeAt(i + 1)
  if (next === DOT) next = target.charCodeAt(i + 2)
  return Number.isNaN(next) /* end of input */ || next === SLASH || next === QUESTION
}

/**
 * RFC 3986 §6.2.2.2: decodes escapes of unreserved characters (ALPHA DIGIT - . _ ~), keeps every
 * other escape with upper-case hex (§6.2.2.1). Null on an escape that is not `%` HEXDIG HEXDIG.
 * Only escapes are touched, so `/` and `?` in the result are exactly those of the input.
 */
function decodeUnreserved(path: string): string | null {
  let out = ''
  let copied = 0
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i)) {
    const hi = hexValue(path.charCodeAt(i + 1))
    const lo = hexValue(path.charCodeAt(i + 2))
    if (hi < 0 || lo < 0) return null
    const byte = hi * 16 + lo
    out += path.slice(copied, i)
    out += isUnreserved(byte)
      ? String.fromCharCode(byte)
      : '%' + HEX_DIGITS.charAt(hi) + HEX_DIGITS.charAt(lo)
    i += 3
    copied = i
  }
  return out + path.slice(copied)
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}

function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2d || // -
    c === DOT ||
    c === 0x5f || // _
    c === 0x7e // ~
  )
}

/**
 * RFC 3986 §5.2.4 on an absolute path, except that a `..` with nothing left to remove is an error
 * (null) instead of being dropped: a request that tries to climb above the root is refused (400),
 * not quietly rewritten. A trailing `.` or `..` leaves a trailing slash (`/a/b/..` → `/a/`).
 */
function removeDotSegments(path: string): string | null {
  // not the hot path: only paths with a `%` or a dot segment get here, so a split is fine
  const input = path.split('/')
  const output: string[] = []
  const last = input.length - 1
  for (let i = 1; i <= last; i++) {
    const segment = input[i] as string
    if (segment === '.') {
      if (i === last) output.push('')
    } else if (segment === '..') {
      if (output.length === 0) return null
      output.pop()
      if (i === last) output.push('')
    } else {
      output.push(segment)
    }
  }
  return '/' + output.join('/')
}
