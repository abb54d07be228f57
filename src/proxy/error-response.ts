/**
 * The only writer of error responses: a GatewayError → status + `{"error","status",
 * "request_id"}`. The message is the code's fixed public text, never user input, never an
 * upstream's words, never a stack trace (SPEC §3).
 */
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { type ErrorCode, publicMessageOf, statusOf } from '../errors.ts'

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
  if (res.headersSent) {
    // Too late for a status: cutting the connection is the only honest signal left.
    res.destroy()
    return
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
  }
  res.writeHead(statusOf(code), headers)
  res.end(body)
}

/**
 * Writes a complete error response straight to a socket whose HTTP parser failed (no
 * ServerResponse exists), then closes it: the stream can no longer be trusted.
 */
export function sendRawError(socket: Socket, code: ErrorCode, requestId: string): void {
  if (!socket.writable || socket.destroyed) {
    socket.destroy()
    return
  }
  const status = statusOf(code)
  const body = errorBody(code, requestId)
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  )
  socket.destroySoon()
}
