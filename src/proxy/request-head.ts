/**
 * Reads what the proxy needs from a request head in one pass over `rawHeaders`, and refuses
 * what llhttp lets through but a proxy must not forward: HTTP versions other than 1.0/1.1,
 * Transfer-Encoding on HTTP/1.0 or with any coding but `chunked` (smuggling vectors), missing,
 * repeated or malformed Host. llhttp itself already rejects CL+TE, duplicate Content-Length,
 * obs-fold, bare CR/LF and control bytes.
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
const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::\d{1,5})?$/

/** The head of `req`, or the error code to answer with (400 or 505). */
export function readRequestHead(req: IncomingMessage): RequestHead | ErrorCode {
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
  if (hostCount > 1 || (hostCount === 0 && req.httpVersionMinor === 1)) return ErrorCode.BAD_REQUEST
  if (host !== null && !HOST_RE.test(host)) return ErrorCode.BAD_REQUEST
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
