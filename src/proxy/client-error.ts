/**
 * Answers requests that Node's HTTP parser (llhttp, strict mode) refused: malformed heads,
 * smuggling attempts, broken chunked bodies, oversized headers, slow-loris timeouts. Each gets a
 * JSON error, in order after the answers already owed on the connection, and the connection is
 * closed, since its framing can no longer be trusted.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { ErrorCode } from '../errors.ts'
import type { Logger } from '../log/logger.ts'
import { afterResponses, sendRawError } from './error-response.ts'
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

/** The Node internals of a server socket that tell which response, if any, is in flight. */
type ServerSocket = Socket & {
  /** The response currently being written on this socket (Node's own handler reads it too). */
  _httpMessage?: ServerResponse | null
  /** The request being parsed; not `complete` while its body is still arriving. */
  parser?: { incoming?: IncomingMessage | null } | null
}

/** Builds the listener's `clientError` handler. */
export function createClientErrorHandler(
  logger: Logger,
): (err: Error & { code?: string; reason?: string }, socket: Socket) => void {
  // Node calls this again for every later chunk on a socket whose parser already failed (and on
  // a header timeout while an earlier answer is pending): answer each connection once.
  const answered = new WeakSet<Socket>()
  return (err, socket: ServerSocket) => {
    if (answered.has(socket)) return
    answered.add(socket)
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    const code = clientErrorCode(err)
    logger.debug({ parser_error: err.code, reason: err.reason }, 'malformed request refused')
    const inFlight = socket._httpMessage ?? null
    const incoming = socket.parser?.incoming ?? null
    if (inFlight === null || incoming === null || incoming.complete) {
      // Nothing in flight, or the head of a later pipelined request is broken: the answers
      // already owed go out first, then this error and the close (sendRawError waits for them).
      // Destroying the socket instead would drop answers to valid requests.
      sendRawError(socket, code, newRequestId())
      return
    }
    // The body of a request already being proxied is broken (bad chunk size, EOF before the
    // declared length). Once the answers owed before it are out, the client still gets a 400
    // if nothing of this request's own response was sent, as Node's own handler does.
    afterResponses(socket, () => refuseBrokenBody(socket, incoming, code), incoming)
  }
}

function refuseBrokenBody(socket: ServerSocket, broken: IncomingMessage, code: ErrorCode): void {
  const current = socket._httpMessage ?? null
  if (current === null || (current.req === broken && !current.headersSent)) {
    // Written on the socket, not through the ServerResponse: that response must stay
    // unfinished so that the socket's close aborts the upstream attempt (a finished one would
    // leave it running on a body that never completes).
    sendRawError(socket, code, newRequestId(), { immediate: true })
  } else {
    // Part of the response is out: a status can no longer be given, only the cut.
    socket.destroy()
  }
}
