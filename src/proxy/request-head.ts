/**
 * Reads what the proxy needs from a request head in one pass over `rawHeaders`, and refuses
 * what llhttp lets through but a proxy must not forward: HTTP versions other than 1.0/1.1,
 * Transfer-Encoding on HTTP/1.0 or with any coding but `chunked` (smuggling vectors), missing,
 * repeated or malformed Host, request-targets with characters no client may send raw. llhttp
 * itself already rejects CL+TE, duplicate Content-Length, obs-fold, bare CR/LF and control bytes.
 */
import type { IncomingMessage } from 'node:http'
import { ErrorCode } from '../errors.ts'

export interface RequestHead {
  /** Host header value as received ('' when absent). */
  readonly host: string
  /** Hostname for routing: lower-cased, port stripped. */
  readonly hostname: string
  /** Declared Content-Length, or -1 when absent. */
  readonly contentLength: number
  /** True when a body follows (Content-Length > 0 or chunked). */
  readonly hasBody: boolean
  /** A client-supplied X-Request-Id that is safe to keep, else null. */
  readonly requestId: string | null
  /** X-Forwarded-For as received (joined), else null. */
  readonly forwardedFor: string | null
  readonly connection: string | undefined
}

// A request id worth keeping: short, printable, no separators that could split a log line.
const REQUEST_ID_RE = /^[A-Za-z0-9._:@/+=-]{1,128}$/
// uri-host (reg-name or IPv4; IP-literal handled apart) with an optional port (RFC 3986 §3.2.2).
// A `%` must start a valid escape: `c.%xample` is no host an upstream can agree on.
const HOST_RE =
  /^(?:\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+)(?::\d{1,5})?$/
// Request-target bytes llhttp accepts but RFC 3986 forbids and no browser sends unencoded (the
// WHATWG URL parser escapes `"` `<` `>` in path and query, turns `\` into `/` and never sends
// the `#` fragment). `\` above all: a Windows/IIS upstream reads it as `/`, so
// `/public\..\admin` would reach a path the router never matched; a `#` in the query would make
// the upstream cut it short. The other RFC-invalid bytes (`[ ] { } | ^` and backquote) are
// kept: browsers and axios send them raw in queries, and refusing them would break real clients.
const BAD_TARGET_RE = /["<>\\#]/
// The authority of an absolute-form target (`http://host:port/…`).
const ABSOLUTE_AUTHORITY_RE = /^https?:\/\/([^/?#]*)/i

// Client connections whose current answer ends them: a refused request, a client's own
// `Connection: close`, HTTP/1.0 without keep-alive. Weak: the entry goes with the socket.
const closingConnections = new WeakSet<object>()

/**
 * Marks the connection of `socket` as closing after the response being written: every request
 * parsed on it from now on is refused by `readRequestHead`.
 */
export function markClosing(socket: object | null | undefined): void {
  if (socket !== null && socket !== undefined) closingConnections.add(socket)
}

/** The head of `req`, or the error code to answer with (400 or 505). */
export function readRequestHead(req: IncomingMessage): RequestHead | ErrorCode {
  // RFC 9112 §9.6: after a response that closes the connection, no further request on it may be
  // processed. Node still parses and emits the pipelined ones; forwarding them would act on bytes
  // framed on a connection already declared untrustworthy (a request smuggled behind a refused
  // one), and their answers could never be delivered anyway.
  const socket = req.socket as object | null | undefined
  if (socket !== null && socket !== undefined && closingConnections.has(socket)) {
    return ErrorCode.BAD_REQUEST
  }
  if (req.httpVersionMajor !== 1 || (req.httpVersionMinor !== 0 && req.httpVersionMinor !== 1)) {
    return ErrorCode.VERSION_NOT_SUPPORTED
  }
  const raw = req.rawHeaders
  let host: string | null = null
  let hostCount = 0
  let te: string | null = null
  let contentLength = -1
  let requestId: string | null = null
  let forwardedFor: string | null = null
  let connection: string | undefined
  // hot path: one pass, lower-casing each name once
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase()
    const value = raw[i + 1] as string
    switch (name) {
      case 'host':
        host = value
        hostCount++
        break
      case 'transfer-encoding':
        te = te === null ? value : `${te}, ${value}`
        break
      case 'content-length':
        contentLength = Number(value)
        break
      case 'x-request-id':
        requestId = REQUEST_ID_RE.test(value) ? value : null
        break
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === null ? value : `${forwardedFor}, ${value}`
        break
      case 'connection':
        connection = connection === undefined ? value : `${connection}, ${value}`
        break
    }
  }
  if (te !== null && (req.httpVersionMinor === 0 || te.trim().toLowerCase() !== 'chunked')) {
    // RFC 9112 §6.1: chunked is the only coding we frame; anything else, or TE on 1.0, could
    // be read differently by the upstream than by us.
    return ErrorCode.BAD_REQUEST
  }
  if ((req as { upgrade?: boolean }).upgrade === true) {
    // An upgrade announcing a body: Node hands every byte after the head to the tunnel, so the
    // "body" would reach the upstream as tunnel data while a front proxy that honours the
    // framing reads it as a body and what follows as the next request (a smuggling vector).
    if (te !== null || contentLength > 0) return ErrorCode.BAD_REQUEST
    // An upgrade pipelined behind a request still being answered: the tunnel's 101 would be
    // written into the middle of that response. Browsers never pipeline upgrades.
    const inFlight = (socket as { _httpMessage?: unknown } | null | undefined)?._httpMessage
    if (inFlight !== undefined && inFlight !== null) return ErrorCode.BAD_REQUEST
  }
  if (hostCount > 1 || (hostCount === 0 && req.httpVersionMinor === 1)) return ErrorCode.BAD_REQUEST
  if (host !== null && !HOST_RE.test(host)) return ErrorCode.BAD_REQUEST
  const url = req.url ?? ''
  if (BAD_TARGET_RE.test(url)) return ErrorCode.BAD_REQUEST
  if (url.charCodeAt(0) !== 0x2f /* '/' */) {
    // RFC 9112 §3.2.2: with an absolute-form target the received Host is ignored and a proxy
    // generates Host from the target. Forwarding the client's Host instead would let the
    // upstream pick a virtual host other than the one the router matched.
    const authority = ABSOLUTE_AUTHORITY_RE.exec(url)?.[1]
    if (authority !== undefined) {
      if (!HOST_RE.test(authority)) return ErrorCode.BAD_REQUEST
      host = authority
    }
  }
  if (!keepsAlive(req.httpVersionMinor, connection)) markClosing(socket)
  return {
    host: host ?? '',
    hostname: hostnameOf(host ?? ''),
    contentLength,
    hasBody: te !== null || contentLength > 0,
    requestId,
    forwardedFor,
    connection,
  }
}

/** RFC 9112 §9.3: HTTP/1.1 persists unless `close` is listed, HTTP/1.0 only with `keep-alive`. */
function keepsAlive(minor: number, connection: string | undefined): boolean {
  if (connection === undefined) return minor === 1
  const tokens = connection.toLowerCase().split(',')
  const has = (token: string): boolean => tokens.some((t) => t.trim() === token)
  return !has('close') && (minor === 1 || has('keep-alive'))
}

/** `Example.COM:8080` → `example.com`; `[::1]:80` → `[::1]`. */
export function hostnameOf(host: string): string {
  let end = host.length
  if (host.startsWith('[')) {
    end = host.indexOf(']') + 1
  } else {
    const colon = host.lastIndexOf(':')
    if (colon !== -1) end = colon
  }
  const name = host.slice(0, end)
  // hot path: most Host values are already lower-case; skip the copy then
  return /[A-Z]/.test(name) ? name.toLowerCase() : name
}
