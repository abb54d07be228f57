/**
 * Answers requests that Node's HTTP parser (llhttp, strict mode) refused before any handler
 * ran: malformed heads, smuggling attempts, oversized headers, slow-loris timeouts. Each gets
 * a JSON error and the connection is closed, since its framing can no longer be trusted.
 */
import type { Socket } from 'node:net'
import { ErrorCode } from '../errors.ts'
import type { Logger } from '../log/logger.ts'
import { sendRawError } from './error-response.ts'
import { newRequestId } from './forwarded-headers.ts'

/** The status code for a parser error code (HPE_*) or Node's own timeout codes. */
export function clientErrorCode(err: Error & { code?: string; reason?: string }): ErrorCode {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return ErrorCode.HEADERS_TOO_LARGE
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return ErrorCode.REQUEST_TIMEOUT
    case 'HPE_INVALID_VERSION':
      // llhttp uses this code both for a well-formed but unknown version (505) and for
      // garbage after it (400); only the reason tells them apart.
      return err.reason === 'Invalid HTTP version'
        ? ErrorCode.VERSION_NOT_SUPPORTED
        : ErrorCode.BAD_REQUEST
    case undefined:
    default:
      return ErrorCode.BAD_REQUEST
  }
}

/** Builds the listener's `clientError` handler. */
export function createClientErrorHandler(
  logger: Logger,
): (err: Error & { code?: string; reason?: string }, socket: Socket) => void {
  return (err, socket) => {
    const inResponse = (socket as Socket & { _httpMessage?: unknown })._httpMessage
    if (
      err.code === 'ECONNRESET' ||
      !socket.writable ||
      (inResponse !== undefined && inResponse !== null)
    ) {
      // Nothing useful can be written: the peer is gone or a response is already under way
      // on this socket (Node's own default handler makes the same check).
      socket.destroy()
      return
    }
    const code = clientErrorCode(err)
    logger.debug({ parser_error: err.code, reason: err.reason }, 'malformed request refused')
    sendRawError(socket, code, newRequestId())
  }
}
