/**
 * A small, deliberately strict HTTP/1.x request parser for tests (RFC 9112 message syntax with
 * none of the leniencies real servers allow). `origin` mode checks what a proxy may send
 * upstream; `client` mode is the oracle for what a client may validly send to the gateway.
 * Pure, no I/O.
 */

/** `origin`: what a conforming proxy sends; `client`: what a conforming client sends. */
export type ParseMode = 'origin' | 'client'

export interface StrictRequest {
  readonly method: string
  readonly target: string
  readonly version: '1.0' | '1.1'
  /** Header fields in order: name as sent, value with OWS trimmed (latin1). */
  readonly headers: readonly (readonly [string, string])[]
  /** The decoded body (chunked framing removed). */
  readonly body: Buffer
  readonly chunked: boolean
  /** Connection names `upgrade` and an Upgrade field is present (or the method is CONNECT). */
  readonly upgrade: boolean
  /** The exact bytes of this request, head and framed body. */
  readonly raw: Buffer
  /**
   * Tolerated departures from RFC 9112 (not violations): request-target bytes RFC 3986 forbids
   * but browsers and axios send raw (`[ ] { } | ^`, backquote, a `%` starting no escape), which
   * hitless passes through.
   */
  readonly deviations: readonly string[]
}

export type ParseResult =
  | { readonly kind: 'request'; readonly request: StrictRequest; readonly end: number }
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }

export interface ParseOptions {
  readonly mode: ParseMode
  /** Lower-case names that must not appear (origin mode), e.g. ones named in Connection. */
  readonly forbiddenHeaders?: ReadonlySet<string>
  /** Check the message framing only (request line shape, fields, body), not Host or target. */
  readonly framingOnly?: boolean
}

const CR = 0x0d
const LF = 0x0a
const MAX_HEAD_BYTES = 64 * 1024
const MAX_BODY_BYTES = 16 * 1024 * 1024
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const REQUEST_LINE_RE = /^([^ ]+) ([^ ]+) HTTP\/(\d)\.(\d)$/
const LENIENT_REQUEST_LINE_RE = /^([^ ]+) +([^ ]+) +HTTP\/(\d)\.(\d)$/
// RFC 3986 pchar minus pct-encoded (checked apart): unreserved / sub-delims / ":" / "@"
const PCHAR = "A-Za-z0-9\\-._~!$&'()*+,;=:@"
const ORIGIN_FORM_RE = new RegExp(
  `^(?:/(?:[${PCHAR}]|%[0-9A-Fa-f]{2})*)+(?:\\?(?:[${PCHAR}/?]|%[0-9A-Fa-f]{2})*)?$`,
)
const ABSOLUTE_FORM_RE = /^https?:\/\/([^/?#@]+)(\/[^#]*|\?[^#]*)?$/i
// RFC 3986-invalid bytes the WHATWG URL parser leaves unescaped in a path or query, and a `%`
// that starts no escape (browsers send `?q=50%off` as typed).
const WHATWG_LEFTOVERS_RE = /[[\]{}|^`]|%(?![0-9A-Fa-f]{2})/g
const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::\d*)?$/
const CHUNK_LINE_RE =
  /^([0-9A-Fa-f]+)((?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"))?)*)$/
// Hop-by-hop names a proxy must consume (RFC 9110 §7.6.1); Connection, Upgrade checked apart.
const HOP_BY_HOP = new Set(['keep-alive', 'proxy-connection', 'te', 'trailer'])

type Line = { readonly text: string; readonly next: number } | { readonly error: string } | null

/** Reads one CRLF-terminated line at `pos`; null when it is not complete yet. */
function readLine(buf: Buffer, pos: number, limit: number): Line {
  const lf = buf.indexOf(LF, pos)
  const scanEnd = lf === -1 ? buf.length : lf
  for (let i = pos; i < scanEnd - 1; i++) {
    if (buf[i] === CR) return { error: 'bare CR' }
  }
  if (lf === -1) {
    // a CR as the very last byte may still be followed by its LF
    return buf.length - pos > limit ? { error: 'line too long' } : null
  }
  if (lf === pos || buf[lf - 1] !== CR) return { error: 'bare LF' }
  return { text: buf.toString('latin1', pos, lf - 1), next: lf + 1 }
}

/** Why a field value is invalid, or null: only HTAB, SP, VCHAR and obs-text (RFC 9110 §5.5). */
function badValue(value: string): string | null {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c === 0x09 || (c >= 0x20 && c !== 0x7f)) continue
    return `control byte 0x${c.toString(16).padStart(2, '0')} in field value`
  }
  return null
}

/** Parses one request at `start`. */
export function parseRequest(buf: Buffer, start: number, opts: ParseOptions): ParseResult {
  let pos = start
  if (opts.mode === 'client') {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line
    // (llhttp skips any CR and LF bytes there; harmless, the proxy regenerates the head)
    while (buf[pos] === CR || buf[pos] === LF) pos++
  }
  const first = readLine(buf, pos, MAX_HEAD_BYTES)
  if (first === null) return { kind: 'incomplete' }
  if ('error' in first) return { kind: 'invalid', reason: `request line: ${first.error}` }
  // RFC 9112 §3: a recipient MAY split the request-line on runs of SP (llhttp does)
  const line = (opts.mode === 'client' ? LENIENT_REQUEST_LINE_RE : REQUEST_LINE_RE).exec(first.text)
  if (line === null) return { kind: 'invalid', reason: 'malformed request line' }
  const [, method = '', target = '', major, minor] = line
  if (!TOKEN_RE.test(method)) return { kind: 'invalid', reason: 'method is not a token' }
  const version = `${major}.${minor}`
  if (version !== '1.1' && (opts.mode === 'origin' || version !== '1.0')) {
    return { kind: 'invalid', reason: `version HTTP/${version}` }
  }
  const deviations: string[] = []
  let targetError = opts.framingOnly === true ? null : checkTarget(target, opts.mode)
  if (
    targetError !== null &&
    checkTarget(target.replace(WHATWG_LEFTOVERS_RE, '_'), opts.mode) === null
  ) {
    deviations.push(
      `browser-style raw bytes in request-target ${JSON.stringify(target.slice(0, 80))}`,
    )
    targetError = null
  }
  if (targetError !== null) return { kind: 'invalid', reason: targetError }
  const headers: [string, string][] = []
  pos = first.next
  for (;;) {
    const field = readLine(buf, pos, MAX_HEAD_BYTES)
    if (field === null) {
      return buf.length - start > MAX_HEAD_BYTES
        ? { kind: 'invalid', reason: 'head too large' }
        : { kind: 'incomplete' }
    }
    if ('error' in field) return { kind: 'invalid', reason: `header: ${field.error}` }
    pos = field.next
    if (field.text === '') break
    const parsed = parseField(field.text)
    if (typeof parsed === 'string') return { kind: 'invalid', reason: parsed }
    headers.push(parsed)
    if (pos - start > MAX_HEAD_BYTES) return { kind: 'invalid', reason: 'head too large' }
  }
  const framing = checkHeaders(method, version, target, headers, opts)
  if (typeof framing === 'string') return { kind: 'invalid', reason: framing }
  const body = readBody(buf, pos, framing)
  if (body.kind !== 'body') return body
  return {
    kind: 'request',
    end: body.end,
    request: {
      method,
      target,
      version,
      headers,
      body: body.body,
      chunked: framing.chunked,
      upgrade: framing.upgrade,
      raw: buf.subarray(start, body.end),
      deviations,
    },
  }
}

function checkTarget(target: string, mode: ParseMode): string | null {
  if (ORIGIN_FORM_RE.test(target)) {
    if (mode === 'origin' && /(?:^|\/)\.\.?(?:\/|$)/.test(target.split('?')[0] ?? '')) {
      return 'dot segment in forwarded path'
    }
    return null
  }
  if (mode === 'client') {
    const abs = ABSOLUTE_FORM_RE.exec(target)
    const rest = abs?.[2] ?? ''
    if (
      abs !== null &&
      HOST_RE.test(abs[1] ?? '') &&
      (rest === '' || ORIGIN_FORM_RE.test(rest.startsWith('?') ? `/${rest}` : rest))
    ) {
      return null
    }
  }
  return `invalid request-target ${JSON.stringify(target.slice(0, 80))}`
}

function parseField(text: string): [string, string] | string {
  const c = text.charCodeAt(0)
  if (c === 0x20 || c === 0x09) return 'obs-fold or whitespace before a field line'
  const colon = text.indexOf(':')
  if (colon <= 0) return 'field line without a name and colon'
  const name = text.slice(0, colon)
  if (!TOKEN_RE.test(name)) return `field name is not a token: ${JSON.stringify(name.slice(0, 40))}`
  const value = text.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')
  const bad = badValue(value)
  return bad ?? [name, value]
}

interface Framing {
  readonly contentLength: number
  readonly chunked: boolean
  readonly upgrade: boolean
}

function checkHeaders(
  method: string,
  version: string,
  target: string,
  headers: readonly (readonly [string, string])[],
  opts: ParseOptions,
): Framing | string {
  const values = (name: string): string[] =>
    headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v)
  const hosts = values('host')
  if (opts.framingOnly === true) hosts.length = 0
  else if (hosts.length > 1) return 'more than one Host'
  if (
    hosts.length === 0 &&
    opts.framingOnly !== true &&
    (version === '1.1' || opts.mode === 'origin')
  ) {
    return 'no Host'
  }
  if (hosts.length === 1 && !HOST_RE.test(hosts[0] ?? '')) return 'invalid Host'
  const te = values('transfer-encoding')
  const cl = values('content-length')
  if (te.length > 0 && cl.length > 0) return 'Content-Length together with Transfer-Encoding'
  if (te.length > 0) {
    if (version !== '1.1') return 'Transfer-Encoding in HTTP/1.0'
    const codings = te
      .join(',')
      .split(',')
      .map((s) => s.trim())
    const ok =
      opts.mode === 'origin'
        ? te.length === 1 && te[0] === 'chunked'
        : codings.length === 1 && codings[0]?.toLowerCase() === 'chunked'
    if (!ok) return `Transfer-Encoding ${JSON.stringify(te.join(', '))}`
  }
  if (cl.length > 1) return 'more than one Content-Length'
  let contentLength = 0
  if (cl.length === 1) {
    if (!/^\d{1,15}$/.test(cl[0] ?? '')) return `invalid Content-Length ${JSON.stringify(cl[0])}`
    contentLength = Number(cl[0])
    if (contentLength > MAX_BODY_BYTES) return 'Content-Length too large for this test origin'
  }
  const connection = values('connection')
    .join(',')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '')
  const upgrade =
    method === 'CONNECT' || (connection.includes('upgrade') && values('upgrade').length > 0)
  if (opts.mode === 'origin') {
    const problem = checkHopByHop(headers, connection, upgrade, opts.forbiddenHeaders)
    if (problem !== null) return problem
    if (target === '') return 'empty target'
  }
  return { contentLength, chunked: te.length > 0, upgrade }
}

function checkHopByHop(
  headers: readonly (readonly [string, string])[],
  connection: readonly string[],
  upgrade: boolean,
  forbidden: ReadonlySet<string> | undefined,
): string | null {
  for (const token of connection) {
    if (token !== 'keep-alive' && token !== 'close' && !(token === 'upgrade' && upgrade)) {
      return `Connection names ${JSON.stringify(token)}`
    }
  }
  for (const [name] of headers) {
    const lower = name.toLowerCase()
    if (HOP_BY_HOP.has(lower)) return `hop-by-hop field ${name} forwarded`
    if (lower === 'upgrade' && !upgrade) return 'Upgrade forwarded without Connection: upgrade'
    if (forbidden?.has(lower) === true) return `forbidden field ${name} forwarded`
  }
  return null
}

type BodyResult =
  | { readonly kind: 'body'; readonly body: Buffer; readonly end: number }
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }

function readBody(buf: Buffer, pos: number, framing: Framing): BodyResult {
  if (!framing.chunked) {
    const end = pos + framing.contentLength
    if (buf.length < end) return { kind: 'incomplete' }
    return { kind: 'body', body: buf.subarray(pos, end), end }
  }
  const parts: Buffer[] = []
  for (;;) {
    const line = readLine(buf, pos, 1024)
    if (line === null) return { kind: 'incomplete' }
    if ('error' in line) return { kind: 'invalid', reason: `chunk size line: ${line.error}` }
    const m = CHUNK_LINE_RE.exec(line.text)
    if (m === null)
      return {
        kind: 'invalid',
        reason: `bad chunk size line ${JSON.stringify(line.text.slice(0, 40))}`,
      }
    const digits = (m[1] ?? '').replace(/^0+(?=.)/, '')
    if (digits.length > 7) return { kind: 'invalid', reason: 'chunk size too large' }
    const size = parseInt(digits, 16)
    pos = line.next
    if (size === 0) break
    if (buf.length < pos + size + 2) return { kind: 'incomplete' }
    parts.push(buf.subarray(pos, pos + size))
    pos += size
    if (buf[pos] !== CR || buf[pos + 1] !== LF)
      return { kind: 'invalid', reason: 'chunk data not followed by CRLF' }
    pos += 2
  }
  for (;;) {
    // trailer section (RFC 9112 §7.1.2), then the final CRLF
    const line = readLine(buf, pos, MAX_HEAD_BYTES)
    if (line === null) return { kind: 'incomplete' }
    if ('error' in line) return { kind: 'invalid', reason: `trailer: ${line.error}` }
    pos = line.next
    if (line.text === '') break
    const field = parseField(line.text)
    if (typeof field === 'string') return { kind: 'invalid', reason: `trailer: ${field}` }
  }
  return { kind: 'body', body: Buffer.concat(parts), end: pos }
}

/**
 * Parses `buf` as a sequence of pipelined requests, stopping at the first invalid or incomplete
 * one, or after an upgrade (what follows is tunnel data). `rest` tells how it stopped.
 */
export function parseAll(
  buf: Buffer,
  opts: ParseOptions,
): {
  requests: StrictRequest[]
  rest: 'end' | 'incomplete' | 'invalid' | 'upgrade'
  reason?: string
} {
  const requests: StrictRequest[] = []
  let pos = 0
  while (pos < buf.length) {
    const r = parseRequest(buf, pos, opts)
    if (r.kind !== 'request')
      return { requests, rest: r.kind, ...(r.kind === 'invalid' ? { reason: r.reason } : {}) }
    requests.push(r.request)
    pos = r.end
    if (r.request.upgrade) return { requests, rest: 'upgrade' }
  }
  return { requests, rest: 'end' }
}

/** The value of the first field named `name` (any case), or undefined. */
export function fieldOf(req: StrictRequest, name: string): string | undefined {
  return req.headers.find(([n]) => n.toLowerCase() === name)?.[1]
}
