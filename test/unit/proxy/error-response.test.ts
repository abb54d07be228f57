/**
 * The single writer of error responses: the `{"error","status","request_id"}` body, and what
 * sendError / sendRawError put on a real connection (status, headers, keep-alive or close,
 * never a stack trace), observed from a client on 127.0.0.1.
 */

import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net, { type AddressInfo, type Socket } from 'node:net'
import { errorBody, sendError, sendRawError } from '../../../src/proxy/error-response.ts'
import { ErrorCode, allErrorCodes, publicMessageOf, statusOf } from '../../../src/errors.ts'
import { startFakeUpstream, type FakeUpstream } from '../../helpers/fake-upstream.ts'
import { rawExchange, request } from '../../helpers/http-client.ts'
import { onceWithin } from '../../helpers/wait-for.ts'

void describe('errorBody', () => {
  void test('is exactly {error, status, request_id} with the code’s public message and status', () => {
    const body = JSON.parse(errorBody(ErrorCode.UPSTREAM_TIMEOUT, 'req-9')) as unknown
    assert.deepEqual(body, { error: 'upstream timed out', status: 504, request_id: 'req-9' })
  })

  void test('uses the registry’s message and status for every code, and never the code itself', () => {
    for (const code of allErrorCodes()) {
      const body = JSON.parse(errorBody(code, 'r')) as Record<string, unknown>
      assert.deepEqual(Object.keys(body), ['error', 'status', 'request_id'], code)
      assert.equal(body['error'], publicMessageOf(code), code)
      assert.equal(body['status'], statusOf(code), code)
      assert.ok(!JSON.stringify(body).includes('HITLESS_ERR'), code)
    }
  })

  void test('escapes the request id as JSON rather than splicing it in', () => {
    const body = JSON.parse(errorBody(ErrorCode.BAD_REQUEST, 'a"b\\c')) as Record<string, unknown>
    assert.equal(body['request_id'], 'a"b\\c')
  })
})

void describe('sendError on a real connection', () => {
  let origin: FakeUpstream
  before(async () => {
    origin = await startFakeUpstream({ streaming: true })
  })
  after(async () => {
    await origin.close()
  })

  void test('answers with the code’s status, a JSON body and matching headers', async () => {
    origin.setHandler((_req, res) => sendError(res, ErrorCode.NO_HEALTHY_TARGET, 'req-1'))
    const reply = await request(origin.url)
    assert.equal(reply.status, 503)
    assert.equal(reply.headers['content-type'], 'application/json')
    assert.equal(reply.headers['content-length'], String(reply.body.length))
    assert.equal(reply.headers['x-request-id'], 'req-1')
    assert.deepEqual(reply.json(), {
      error: 'no healthy upstream target',
      status: 503,
      request_id: 'req-1',
    })
  })

  void test('keeps the connection open for the next request by default', async () => {
    origin.setHandler((_req, res) => sendError(res, ErrorCode.ROUTE_NOT_FOUND, 'req-2'))
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const before = origin.connections
      const first = await request(origin.url, { agent })
      const second = await request(origin.url, { agent })
      assert.equal(first.status, 404)
      assert.equal(second.status, 404)
      assert.equal(first.headers.connection, 'keep-alive')
      assert.equal(origin.connections - before, 1, 'both requests used one connection')
    } finally {
      agent.destroy()
    }
  })

  void test('with close: sends Connection: close and closes the connection after the body', async () => {
    let serverSocket: Socket | null = null
    origin.setHandler((req, res) => {
      serverSocket = req.socket
      sendError(res, ErrorCode.BODY_TOO_LARGE, 'req-3', { close: true })
    })
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const reply = await request(origin.url, { agent })
      assert.equal(reply.status, 413)
      assert.equal(reply.headers.connection, 'close')
      assert.equal(reply.json<{ status: number }>().status, 413)
      const socket = serverSocket as Socket | null
      assert.ok(socket !== null)
      if (!socket.destroyed) await onceWithin(socket, 'close')
    } finally {
      agent.destroy()
    }
  })

  void test('never puts a stack trace or error details in the body', async () => {
    origin.setHandler((_req, res) => sendError(res, ErrorCode.INTERNAL, 'req-4'))
    const reply = await request(origin.url)
    assert.equal(reply.status, 500)
    assert.deepEqual(reply.json(), { error: 'internal error', status: 500, request_id: 'req-4' })
    assert.doesNotMatch(reply.text(), /\bat |\.[jt]s:\d|Error:/)
  })

  void test('cuts the connection when the response has already started', async () => {
    origin.setHandler((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('partial', () => sendError(res, ErrorCode.UPSTREAM_BODY_ABORTED, 'req-5'))
    })
    const { text, closedByServer } = await rawExchange(
      origin.port,
      'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
    )
    assert.match(text, /^HTTP\/1\.1 200 /)
    assert.ok(text.includes('partial'))
    assert.ok(!text.includes('"error"'), 'no error body after the 200')
    assert.ok(!text.endsWith('0\r\n\r\n'), 'the chunked body is not terminated as complete')
    assert.equal(closedByServer, true)
  })
})

void describe('sendRawError', () => {
  void test('writes a complete HTTP/1.1 error with Connection: close and closes the socket', async () => {
    const server = net.createServer((socket) =>
      sendRawError(socket, ErrorCode.HEADERS_TOO_LARGE, 'raw-1'),
    )
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as AddressInfo).port
      const { text, closedByServer } = await rawExchange(port, 'x')
      const [head, body] = text.split('\r\n\r\n')
      const lines = head!.split('\r\n')
      assert.equal(lines[0], 'HTTP/1.1 431 Request Header Fields Too Large')
      assert.ok(lines.includes('connection: close'))
      assert.ok(lines.includes('content-type: application/json'))
      assert.ok(lines.includes('x-request-id: raw-1'))
      assert.ok(lines.includes(`content-length: ${Buffer.byteLength(body!)}`))
      assert.deepEqual(JSON.parse(body!), {
        error: 'request header fields too large',
        status: 431,
        request_id: 'raw-1',
      })
      assert.equal(closedByServer, true)
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})
