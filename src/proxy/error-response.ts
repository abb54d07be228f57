/**
 * The only writer of error responses: a GatewayError → status + `{"error","status",
 * "request_id"}`. The message is the code's fixed public text, never user input, never an
 * upstream's words, never a stack trace (SPEC §3).
 */
import {
  STATUS_CODES,
  validateHeaderName,
  validateHeaderValue,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import type { Socket } from 'node:net'
import { type ErrorCode, publicMessageOf, statusOf } from '../errors.ts'
import { markClosing } from './request-head.ts'

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
}

/** The JSON body for `code`. */
export function errorBody(code: ErrorCode, requestId: string): string {
  const status = statusOf(code)
  return JSON.stringify({ error: publicMessageOf(code), status, request_id: requestId })
}

/**
 * Answers `res` with the error for `code`. `close` asks for the connection to be closed after
 * it (a request body was left unread, or the framing cannot be trusted).
 */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  requestId: string,
  opts: { readonly close?: boolean } = {},
): void {
  const error = prepareError(res, code, requestId, opts)
  if (error === null) return
  res.writeHead(error.status, error.headers)
  res.end(error.body)
}

/**
 * What sendError writes, with its side effects on the connection done (keep-alive off for a
 * `close`); null when the head is out already (the response was cut instead).
 */
export function prepareError(
  res: ServerResponse,
  code: ErrorCode,
  requestId: string,
  opts: { readonly close?: boolean } = {},
): { status: number; headers: string[]; body: string } | null {
  if (res.headersSent) {
    // Too late for a status: cutting the connection is the only honest signal left.
    res.destroy()
    return null
  }
  const body = errorBody(code, requestId)
  const headers = [
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(body)),
    'x-request-id',
    requestId,
  ]
  if (opts.close === true) {
    headers.push('connection', 'close')
    res.shouldKeepAlive = false
    // Requests already pipelined behind this one must not be forwarded (see request-head.ts).
    // The request's socket, not res.socket: a queued pipelined response has none assigned yet.
    markClosing((res.req as IncomingMessage | undefined)?.socket ?? res.socket)
  }
  return { status: statusOf(code), headers, body }
}

type ServerSocket = Socket & { _httpMessage?: ServerResponse | null }

/**
 * Writes a complete error response straight to a socket that no ServerResponse can serve (its
 * HTTP parser failed, or it was handed over for an upgrade), then closes it: the stream can no
 * longer be trusted. The answer waits for the responses already in flight on the socket, so
 * it comes after them in request order; writing at once would slip it into the middle of an
 * earlier response and desynchronise the client. `immediate` skips the wait: only for the case
 * where the in-flight response is the refused request's own and has sent nothing.
 */
export function sendRawError(
  socket: Socket,
  code: ErrorCode,
  requestId: string,
  opts: { readonly immediate?: boolean } = {},
): void {
  if (opts.immediate === true) writeRawError(socket, code, requestId)
  else afterResponses(socket, () => writeRawError(socket, code, requestId))
}

function writeRawError(socket: Socket, code: ErrorCode, requestId: string): void {
  const status = statusOf(code)
  const body = errorBody(code, requestId)
  writeRawResponse(socket, status, ['content-type', 'application/json'], body, requestId)
}

/**
 * Writes a whole response straight to a socket no HTTP response owns (an upgrade request's) and
 * closes it: status line, `headers` (a flat name/value list, checked as Node checks them: throws
 * before writing anything on an invalid one), content-length, x-request-id, connection: close.
 */
export function writeRawResponse(
  socket: Socket,
  status: number,
  headers: readonly string[],
  body: string | Buffer,
  requestId: string,
): void {
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? STATUS_CODES[status] ?? 'Unknown'}\r\n`
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string
    const value = headers[i + 1] as string
    validateHeaderName(name)
    validateHeaderValue(name, value)
    head += `${name}: ${value}\r\n`
  }
  if (!socket.writable || socket.destroyed) {
    socket.destroy()
    return
  }
  head += `content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n`
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body)]))
  socket.destroySoon()
}

/**
 * Runs `then` once no response is in flight on `socket` (pipelined ones are written in turn),
 * or once the one in flight is the response to `turnOf`.
 */
export function afterResponses(
  socket: Socket,
  then: () => void,
  turnOf: IncomingMessage | null = null,
): void {
  const current = (socket as ServerSocket)._httpMessage ?? null
  if (current === null || (turnOf !== null && current.req === turnOf)) {
    then()
    return
  }
  const next = (): void => {
    current.removeListener('finish', next)
    current.removeListener('close', next)
    // Node's own 'finish' listener ran first (it was added when the response was created) and
    // has already handed the socket to the next queued response, if any.
    afterResponses(socket, then, turnOf)
  }
  current.once('finish', next)
  current.once('close', next)
}
