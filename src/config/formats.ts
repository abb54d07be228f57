/**
 * Pure parsers for the string formats a config document uses: durations, listen addresses,
 * target URLs, hash and sticky keys, header names and values, paths. The schema checks with
 * them and `normalize.ts` converts with them, so each format is read by exactly one function.
 */
import assert from 'node:assert/strict'
import { isIP } from 'node:net'
import type { HashKey, ListenAddress, StickyKey } from './types.ts'

/** Outcome of reading a formatted string: the value, or a user-facing message and maybe a hint. */
export type FormatResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly message: string; readonly hint?: string }

function ok<T>(value: T): FormatResult<T> {
  return { ok: true, value }
}

function fail<T>(message: string, hint?: string): FormatResult<T> {
  return hint === undefined ? { ok: false, message } : { ok: false, message, hint }
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Node timers overflow above 2^31 - 1 ms and then fire at once, so no duration may exceed it. */
export const MAX_DURATION_MS = 2_147_483_647

/**
 * Guesses the unit a bare number meant, for the "did you mean" hint: large numbers are usually
 * milliseconds (`250`, `5000`), small ones seconds (`2`, `30`).
 */
export function suggestDurationUnit(amount: number): string {
  return amount >= 100 ? `${amount}ms` : `${amount}s`
}

/** Reads `250ms`, `2s`, `1.5s`, `1m`, `1h` into whole milliseconds. */
export function parseDuration(text: string): FormatResult<number> {
  const m = DURATION.exec(text)
  if (m === null) return failDuration(text)
  const exact = Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN)
  // Binary floating point makes 1.001 * 1000 = 1000.9999999999999: round, then check closeness.
  const ms = Math.round(exact)
  if (Math.abs(exact - ms) > 1e-6) {
    return fail(`duration "${text}" is not a whole number of milliseconds`)
  }
  if (ms > MAX_DURATION_MS) return fail(`duration "${text}" is longer than ${MAX_DURATION_MS}ms`)
  return ok(ms)
}

function failDuration(text: string): FormatResult<number> {
  const compact = text.replace(/\s+/g, '')
  if (/^\d+(\.\d+)?$/.test(compact)) {
    return fail(
      `duration "${text}" has no unit (ms, s, m or h)`,
      suggestDurationUnit(Number(compact)),
    )
  }
  const hint = DURATION.test(compact.toLowerCase()) ? compact.toLowerCase() : undefined
  return fail(
    `invalid duration "${text}": expected a number and a unit, like 250ms, 2s, 1m or 1h`,
    hint,
  )
}

const HOSTNAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i

/** True for a DNS name (`api.example.com`, `localhost`) or an IPv4 literal. */
export function isHostname(text: string): boolean {
  return text.length <= 253 && (HOSTNAME.test(text) || isIP(text) === 4)
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port <= 65_535 ? port : undefined
}

/** Reads `host:port`, `[::1]:port` or `unix:/path/to.sock`; port 0 asks for any free port. */
export function parseAddress(text: string): FormatResult<ListenAddress> {
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length)
    return path === ''
      ? fail('unix: needs a socket path, like unix:/run/hitless.sock')
      : ok({ kind: 'unix', path })
  }
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(text)
  if (bracketed !== null) return tcpAddress(bracketed[1] ?? '', bracketed[2] ?? '', text, 6)
  const colon = text.lastIndexOf(':')
  if (colon < 0) return fail(`address "${text}" has no port; expected host:port`)
  const host = text.slice(0, colon)
  const port = text.slice(colon + 1)
  if (host.includes(':')) {
    return fail(`IPv6 address "${text}" needs brackets`, `[${host}]:${port}`)
  }
  if (host === '') return fail(`address "${text}" has no host`, `0.0.0.0:${port}`)
  return tcpAddress(host, port, text, 4)
}

function tcpAddress(host: string, portText: string, text: string, family: 4 | 6) {
  const port = parsePort(portText)
  if (port === undefined) return fail<ListenAddress>(`invalid port in "${text}": expected 0-65535`)
  const hostOk = family === 6 ? isIP(host) === 6 : isHostname(host)
  if (!hostOk) return fail<ListenAddress>(`invalid host in address "${text}"`)
  return ok<ListenAddress>({ kind: 'tcp', host: host.toLowerCase(), port })
}

/** True when only this machine can reach the address: a loopback host or a unix socket. */
export function isLoopback(address: ListenAddress): boolean {
  if (address.kind === 'unix') return true
  const host = address.host
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return host === '::1' || /^::ffff:127\./.test(host)
}

/**
 * A name server address as Node's resolver takes it: an IP (`10.0.0.2`, `::1`), or one with a
 * port (`127.0.0.1:5353`, `[::1]:5353`).
 */
export function isNameServer(text: string): boolean {
  if (isIP(text) !== 0) return true
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text)
  if (m === null) return false
  const port = Number(m[3])
  const host = m[1] ?? m[2] ?? ''
  return port >= 1 && port <= 65_535 && isIP(host) === (m[1] === undefined ? 4 : 6)
}

/**
 * Reads an upstream target or etcd endpoint URL: http or https, a host, no credentials, no
 * path, query or fragment. Returns the origin `protocol//host:port` with the port explicit.
 */
export function parseOriginUrl(text: string): FormatResult<string> {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    const hint = text.includes('://') ? undefined : `http://${text}`
    return fail(`invalid URL "${text}"`, hint)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    const hint = text.includes('://') ? undefined : `http://${text}`
    return fail(`URL "${text}" must use http:// or https://`, hint)
  }
  const problem = originProblem(url, text)
  if (problem !== undefined) return fail(problem)
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port
  return ok(`${url.protocol}//${url.hostname}:${port}`)
}

function originProblem(url: URL, text: string): string | undefined {
  if (url.hostname === '') return `URL "${text}" has no host`
  if (url.username !== '' || url.password !== '') return `URL "${text}" must not carry credentials`
  if (url.port === '0') return `URL "${text}" must not use port 0`
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || /[?#]/.test(text)) {
    return `URL "${text}" must not have a path, query or fragment (use rewrite.add_prefix for a path)`
  }
  return undefined
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** True for an RFC 9110 §5.6.2 token: the syntax of header names, methods and cookie names. */
export function isToken(text: string): boolean {
  return TOKEN.test(text)
}

// Node's own check (lib/_http_common.js): anything else makes setHeader throw mid-request.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

/** True when Node will accept `text` as a header value (no CR, LF, NUL or other controls). */
export function isHeaderValue(text: string): boolean {
  return HEADER_VALUE.test(text)
}

/** Reads a consistent-hash key: `header:NAME`, `cookie:NAME`, `client-ip` or `path`. */
export function parseHashKey(text: string): FormatResult<HashKey> {
  if (text === 'path') return ok({ kind: 'path' })
  return parseRequestKey(text, ['client-ip', 'path', 'header:', 'cookie:'])
}

/** Reads a roll-out sticky key: `client-ip`, `header:NAME` or `cookie:NAME`. */
export function parseStickyKey(text: string): FormatResult<StickyKey> {
  return parseRequestKey(text, ['client-ip', 'header:', 'cookie:'])
}

function parseRequestKey(text: string, forms: readonly string[]): FormatResult<StickyKey> {
  if (text === 'client-ip') return ok({ kind: 'client-ip' })
  const m = /^(header|cookie):(.*)$/.exec(text)
  const kind = m?.[1]
  const name = m?.[2] ?? ''
  if (kind === 'header' || kind === 'cookie') {
    if (isToken(name)) return ok({ kind, name: kind === 'header' ? name.toLowerCase() : name })
    return fail(`"${text}" needs a valid ${kind} name after "${kind}:"`)
  }
  const expected = forms.map((f) => (f.endsWith(':') ? `${f}NAME` : f)).join(', ')
  return fail(`invalid key "${text}": expected one of ${expected}`)
}

/** Compiles a route regex (JavaScript syntax, no flags); the message is the engine's. */
export function parseRegex(text: string): FormatResult<RegExp> {
  try {
    return ok(new RegExp(text))
  } catch (err) {
    return fail(`invalid regex: ${err instanceof Error ? err.message : String(err)}`)
  }
}

/** Reads a request path or prefix: starts with `/`, no query, fragment or whitespace. */
export function parsePath(text: string): FormatResult<string> {
  if (!text.startsWith('/')) return fail(`"${text}" must start with /`, `/${text}`)
  if (/[?#\s]/.test(text)) return fail(`"${text}" must not contain ?, # or whitespace`)
  return ok(text)
}

/** True for a POSIX environment variable name. */
export function isEnvName(text: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(text)
}

/** The placeholders a redirect location may contain. */
export const REDIRECT_PLACEHOLDERS = ['path', 'query', 'uri', 'host'] as const

/** The `{name}` placeholders of a redirect location that are not one of the supported ones. */
export function unknownPlaceholders(location: string): string[] {
  const names = [...location.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1] ?? '')
  return names.filter((n) => !(REDIRECT_PLACEHOLDERS as readonly string[]).includes(n))
}

/** Reads a host pattern of `match.hosts`: `api.example.com`, `*.example.com`, optional `:port`. */
export function parseHostPattern(text: string): FormatResult<string> {
  const m = /^(\*\.)?([^:]+)(:\d{1,5})?$/.exec(text)
  if (m === null || !isHostname(m[2] ?? '')) {
    return fail(`invalid host "${text}": expected a name like api.example.com or *.example.com`)
  }
  return ok(text.toLowerCase())
}

/**
 * The value of a result the schema has already accepted. Failing here is a bug in hitless (the
 * schema and this module disagree), not a user error, hence an assertion.
 */
export function expectValid<T>(result: FormatResult<T>, what: string): T {
  assert.ok(result.ok, `validated ${what} failed to parse: ${result.ok ? '' : result.message}`)
  return result.value
}
