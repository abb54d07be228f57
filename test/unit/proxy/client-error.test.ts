/**
 * Requests Node's parser refused: the parser / timeout code → hitless code mapping, and the
 * `clientError` handler answering a real malformed request with a JSON error and a closed
 * connection.
 */

import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { clientErrorCode, createClientErrorHandler } from '../../../src/proxy/client-error.ts'
import { ErrorCode } from '../../../src/errors.ts'
import { createLogger } from '../../../src/log/logger.ts'
import { rawExchange, statusOf } from '../../helpers/http-client.ts'

type ParserError = Error & { code?: string; reason?: string }

function parserError(code: string | undefined, reason?: string): ParserError {
  const err: ParserError = new Error('parse error')
  if (code !== undefined) err.code = code
  if (reason !== undefined) err.reason = reason
  return err
}

void describe('clientErrorCode', () => {
  const CASES: readonly (readonly [ParserError, ErrorCode, string])[] = [
    [
      parserError('HPE_HEADER_OVERFLOW'),
      ErrorCode.HEADERS_TOO_LARGE,
      'a head over the limit → 431',
    ],
    [parserError('ERR_HTTP_REQUEST_TIMEOUT'), ErrorCode.REQUEST_TIMEOUT, 'request timeout → 408'],
    [parserError('ERR_HTTP_HEADERS_TIMEOUT'), ErrorCode.REQUEST_TIMEOUT, 'headers timeout → 408'],
    [
      parserError('HPE_INVALID_VERSION', 'Invalid HTTP version'),
      ErrorCode.VERSION_NOT_SUPPORTED,
      'a well-formed unknown version → 505',
    ],
    [
      parserError('HPE_INVALID_VERSION', 'Expected CRLF after version'),
      ErrorCode.BAD_REQUEST,
      'garbage after the version → 400',
    ],
    [
      parserError('HPE_INVALID_VERSION'),
      ErrorCode.BAD_REQUEST,
      'a version error without reason → 400',
    ],
    [parserError('HPE_INVALID_HEADER_TOKEN'), ErrorCode.BAD_REQUEST, 'a bad header → 400'],
    [parserError('HPE_UNEXPECTED_CONTENT_LENGTH'), ErrorCode.BAD_REQUEST, 'CL with TE → 400'],
    [parserError(undefined), ErrorCode.BAD_REQUEST, 'an error without code → 400'],
  ]
  for (const [err, expected, why] of CASES) {
    void test(why, () => {
      assert.equal(clientErrorCode(err), expected)
    })
  }
})

void describe('createClientErrorHandler on a real server', () => {
  let server: http.Server
  let port = 0
  before(async () => {
    server = http.createServer((_req, res) => res.end('ok'))
    server.on('clientError', createClientErrorHandler(createLogger({ level: 'silent' })))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  const CASES: readonly (readonly [string, string, number])[] = [
    ['an invalid header name', 'GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n', 400],
    [
      'Content-Length together with Transfer-Encoding',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
      400,
    ],
    [
      "llhttp's real reason text for an unknown version (HTTP/1.2)",
      'GET / HTTP/1.2\r\nHost: a\r\n\r\n',
      505,
    ],
    ['garbage after the version', 'GET / HTTP/1.1x\r\nHost: a\r\n\r\n', 400],
  ]
  for (const [why, raw, status] of CASES) {
    void test(`answers ${why} with ${status} JSON and closes the connection`, async () => {
      const { text, closedByServer } = await rawExchange(port, raw)
      assert.equal(statusOf(text), status)
      assert.match(text, /\r\nconnection: close\r\n/)
      const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>
      assert.equal(body['status'], status)
      assert.match(String(body['request_id']), /^[0-9a-f-]{36}$/)
      assert.equal(closedByServer, true)
    })
  }

  void test('only destroys the socket when the peer reset the connection', () => {
    const handler = createClientErrorHandler(createLogger({ level: 'silent' }))
    const writes: unknown[] = []
    let destroyed = false
    const socket = {
      writable: true,
      destroyed: false,
      write: (chunk: unknown) => writes.push(chunk),
      end: (chunk: unknown) => writes.push(chunk),
      destroy: () => {
        destroyed = true
      },
    } as unknown as Socket
    handler(parserError('ECONNRESET'), socket)
    assert.equal(destroyed, true)
    assert.deepEqual(writes, [])
  })
})
