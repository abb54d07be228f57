/**
 * WebSocket through the gateway (SPEC §3 "WebSocket and upgrades"): a `ws` client and a `ws`
 * origin talk through a prefix route with a rewrite; messages both ways (text, binary, large),
 * sub-protocol negotiation, X-Forwarded-For on the upgrade request, closes propagated from
 * either side, and clean HTTP errors for unreachable upstreams and unknown paths.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import { startGateway, type TestGateway } from '../helpers/start-gateway.ts'
import { onceWithin, waitFor } from '../helpers/wait-for.ts'

interface Message {
  readonly data: Buffer
  readonly isBinary: boolean
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
}

/** The next message on `ws`, within a timeout. */
async function nextMessage(ws: WebSocket, timeoutMs = 5000): Promise<Message> {
  const [data, isBinary] = await onceWithin<[RawData, boolean]>(ws, 'message', timeoutMs)
  return { data: toBuffer(data), isBinary }
}

/** The close code and reason `ws` reports, within a timeout. */
async function closed(ws: WebSocket, timeoutMs = 5000): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) throw new Error('already closed')
  const [code, reason] = await onceWithin<[number, Buffer]>(ws, 'close', timeoutMs)
  return { code, reason: reason.toString() }
}

/** A port with nothing listening on it (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

/** Opens a client that must be refused; resolves with the refusal's status, headers and body. */
async function refusal(
  url: string,
): Promise<{ status: number; headers: IncomingMessage['headers']; text: string }> {
  const ws = new WebSocket(url)
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('upgrade neither answered nor refused')),
        5000,
      )
      ws.on('open', () => reject(new Error('upgrade unexpectedly accepted')))
      ws.on('error', (err) => reject(err))
      ws.on('unexpected-response', (_req, res: IncomingMessage) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (text += d))
        res.on('end', () => {
          clearTimeout(timer)
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text })
        })
      })
    })
  } finally {
    ws.terminate()
  }
}

describe('websocket', { timeout: 30_000 }, () => {
  let origin: WebSocketServer
  let originPort: number
  let gw: TestGateway
  /** Upgrade requests the origin accepted, with the server-side socket of each. */
  const accepted: { req: IncomingMessage; ws: WebSocket }[] = []
  const clients = new Set<WebSocket>()

  /** Connects through the gateway and waits for the open handshake. */
  async function connect(
    path: string,
    opts: { protocols?: string[]; headers?: Record<string, string> } = {},
  ): Promise<{
    client: WebSocket
    server: WebSocket
    req: IncomingMessage
    upgradeHeaders: IncomingMessage['headers']
  }> {
    const count = accepted.length
    const client = new WebSocket(`ws://127.0.0.1:${gw.port}${path}`, opts.protocols ?? [], {
      headers: opts.headers ?? {},
    })
    clients.add(client)
    let upgradeHeaders: IncomingMessage['headers'] = {}
    client.once('upgrade', (res: IncomingMessage) => (upgradeHeaders = res.headers))
    await onceWithin(client, 'open')
    await waitFor(() => accepted.length > count, { message: 'origin accepted the socket' })
    const { req, ws } = accepted[count]!
    return { client, server: ws, req, upgradeHeaders }
  }

  before(async () => {
    origin = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false),
      verifyClient: (info, done) => {
        if (info.req.url === '/socket/forbidden')
          done(false, 403, 'Forbidden', { 'x-reason': 'no token' })
        else done(true)
      },
    })
    await onceWithin(origin, 'listening')
    originPort = (origin.address() as AddressInfo).port
    origin.on('connection', (ws, req) => {
      accepted.push({ req, ws })
      // Written right behind the 101, likely in the same TCP segment.
      if (req.url === '/socket/welcome') ws.send('welcome')
      ws.on('message', (data, isBinary) => {
        const text = isBinary ? '' : toBuffer(data).toString()
        if (text === 'push') {
          for (let i = 1; i <= 3; i++) ws.send(`push-${i}`)
        } else {
          ws.send(data, { binary: isBinary })
        }
      })
    })
    const dead = await deadPort()
    gw = await startGateway({
      upstreams: {
        echo: { targets: [{ url: `http://127.0.0.1:${originPort}` }] },
        gone: { targets: [{ url: `http://127.0.0.1:${dead}` }] },
      },
      routes: [
        {
          name: 'ws',
          match: { prefix: '/ws' },
          upstream: 'echo',
          rewrite: { strip_prefix: '/ws', add_prefix: '/socket' },
        },
        { name: 'gone', match: { prefix: '/gone' }, upstream: 'gone' },
      ],
    })
  })

  after(async () => {
    for (const c of clients) c.terminate()
    await gw.close()
    for (const c of origin.clients) c.terminate()
    await new Promise<void>((resolve) => origin.close(() => resolve()))
  })

  test('upgrade: rewrite, sub-protocol and forwarded headers reach the origin', async () => {
    const { client, req, upgradeHeaders } = await connect('/ws/room/1?x=1', {
      protocols: ['chat.v1', 'chat.v2'],
      headers: { 'x-forwarded-for': '203.0.113.9' },
    })
    assert.equal(req.url, '/socket/room/1?x=1')
    assert.equal(req.headers['sec-websocket-protocol'], 'chat.v1,chat.v2', 'offer passed as sent')
    assert.equal(req.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1')
    assert.equal(req.headers['x-real-ip'], '127.0.0.1')
    assert.equal(req.headers['x-forwarded-proto'], 'http')
    assert.equal(req.headers.upgrade?.toLowerCase(), 'websocket')
    assert.match(String(req.headers['x-request-id']), /^[0-9a-f-]{36}$/)
    assert.equal(upgradeHeaders['sec-websocket-protocol'], 'chat.v2')
    assert.equal(client.protocol, 'chat.v2', 'the origin choice reaches the client')
    assert.equal(
      upgradeHeaders['x-request-id'],
      req.headers['x-request-id'],
      'id echoed on the 101',
    )
    client.close()
    await closed(client)
  })

  test('text, binary and large messages echo both ways; the origin can push', async () => {
    const { client } = await connect('/ws/echo')
    client.send('hello')
    const text = await nextMessage(client)
    assert.equal(text.isBinary, false)
    assert.equal(text.data.toString(), 'hello')

    const bytes = Buffer.from([0, 1, 2, 127, 128, 254, 255])
    client.send(bytes)
    const binary = await nextMessage(client)
    assert.equal(binary.isBinary, true)
    assert.deepEqual(binary.data, bytes)

    // Large enough to cross many TCP segments and stream buffers each way.
    const large = randomBytes(4 * 1024 * 1024)
    client.send(large)
    const echoed = await nextMessage(client)
    assert.equal(echoed.isBinary, true)
    assert.ok(echoed.data.equals(large), 'the 4 MiB message came back intact')

    const pushed: string[] = []
    const gotAll = new Promise<void>((resolve) =>
      client.on('message', (data) => {
        pushed.push(toBuffer(data).toString())
        if (pushed.length === 3) resolve()
      }),
    )
    client.send('push')
    await Promise.race([gotAll, closed(client).then(() => assert.fail('closed early'))])
    assert.deepEqual(pushed, ['push-1', 'push-2', 'push-3'])
    client.close()
    await closed(client)
  })

  test('a message the origin sends right behind its 101 is not lost', async () => {
    const client = new WebSocket(`ws://127.0.0.1:${gw.port}/ws/welcome`)
    clients.add(client)
    // Listen before the handshake completes: the message may arrive with it.
    const first = nextMessage(client)
    await onceWithin(client, 'open')
    assert.equal((await first).data.toString(), 'welcome')
    client.close()
    await closed(client)
  })

  test('a frame the client sends right behind its upgrade request is not lost', async () => {
    const socket = net.connect(gw.port, '127.0.0.1')
    try {
      await onceWithin(socket, 'connect')
      const mask = Buffer.from([1, 2, 3, 4])
      const payload = Buffer.from('early')
      const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))
      // Upgrade request and a masked text frame in one write: the frame is the 'head' the
      // gateway must hand to the upstream once the tunnel is open.
      socket.write(
        Buffer.concat([
          Buffer.from(
            'GET /ws/raw HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
              'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
          ),
          Buffer.from([0x81, 0x80 | payload.length]),
          mask,
          masked,
        ]),
      )
      let received = Buffer.alloc(0)
      const echoFrame = Buffer.concat([Buffer.from([0x81, payload.length]), payload])
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no echo; got ${received.toString('latin1')}`)),
          5000,
        )
        socket.on('data', (d: Buffer) => {
          received = Buffer.concat([received, d])
          if (received.includes(echoFrame)) {
            clearTimeout(timer)
            resolve()
          }
        })
      })
      assert.match(received.toString('latin1'), /^HTTP\/1\.1 101 /)
    } finally {
      socket.destroy()
    }
  })

  test('a close from the client reaches the origin, with code and reason', async () => {
    const { client, server } = await connect('/ws/close-client')
    const serverClosed = closed(server)
    const clientClosed = closed(client)
    client.close(1000, 'client bye')
    assert.deepEqual(await serverClosed, { code: 1000, reason: 'client bye' })
    assert.equal((await clientClosed).code, 1000)
  })

  test('a close from the origin reaches the client, with code and reason', async () => {
    const { client, server } = await connect('/ws/close-server')
    const clientClosed = closed(client)
    const serverClosed = closed(server)
    server.close(4001, 'server bye')
    assert.deepEqual(await clientClosed, { code: 4001, reason: 'server bye' })
    assert.equal((await serverClosed).code, 4001)
  })

  test('a connection dropped on either side drops the other', async () => {
    const a = await connect('/ws/drop-origin')
    const aClient = closed(a.client)
    a.server.terminate()
    assert.equal((await aClient).code, 1006, 'abnormal closure seen by the client')

    const b = await connect('/ws/drop-client')
    const bServer = closed(b.server)
    b.client.terminate()
    assert.equal((await bServer).code, 1006, 'abnormal closure seen by the origin')
  })

  test('an upgrade to a route whose upstream is unreachable gets 502, not a hang', async () => {
    const { status, headers, text } = await refusal(`ws://127.0.0.1:${gw.port}/gone/socket`)
    assert.equal(status, 502)
    const body = JSON.parse(text) as Record<string, unknown>
    assert.equal(body['status'], 502)
    assert.equal(body['request_id'], headers['x-request-id'])
  })

  test('an upgrade to an unknown path gets 404', async () => {
    const { status, text } = await refusal(`ws://127.0.0.1:${gw.port}/nowhere`)
    assert.equal(status, 404)
    assert.equal((JSON.parse(text) as Record<string, unknown>)['status'], 404)
  })

  test('an origin refusing the upgrade is relayed: its status, headers and body', async () => {
    // Before the fix the client got the gateway's own 400 "malformed request".
    const { status, headers, text } = await refusal(`ws://127.0.0.1:${gw.port}/ws/forbidden`)
    assert.equal(status, 403)
    assert.equal(headers['x-reason'], 'no token')
    assert.equal(text, 'Forbidden')
    assert.match(String(headers['x-request-id']), /^[0-9a-f-]{36}$/)
    assert.equal(headers.connection, 'close')
  })

  test('every upgrade request gets one access-log line when it ends: tunnels and refusals', async () => {
    const { client, upgradeHeaders } = await connect('/ws/logged')
    const id = String(upgradeHeaders['x-request-id'])
    client.close()
    await closed(client)
    await waitFor(() => gw.logs.some((l) => l.msg === 'tunnel' && l.request_id === id), {
      message: 'tunnel logged',
    })
    const line = gw.logs.find((l) => l.msg === 'tunnel' && l.request_id === id)!
    assert.equal(line.status, 101)
    assert.equal(line.route, 'ws')
    assert.equal(line.upstream, 'echo')
    assert.equal(line.target, `http://127.0.0.1:${originPort}`)
    assert.equal(line.path, '/ws/logged')
    assert.equal(typeof line.duration_ms, 'number')
    assert.ok((line.bytes ?? 0) > 0)
    const refused = await refusal(`ws://127.0.0.1:${gw.port}/nowhere-logged`)
    const refusedId = String(refused.headers['x-request-id'])
    await waitFor(() => gw.logs.some((l) => l.msg === 'tunnel' && l.request_id === refusedId), {
      message: 'refusal logged',
    })
    const refusedLine = gw.logs.find((l) => l.msg === 'tunnel' && l.request_id === refusedId)!
    assert.equal(refusedLine.status, 404)
    assert.equal(refusedLine.route, null)
  })

  test('the gateway keeps serving upgrades after all of the above', async () => {
    const { client } = await connect('/ws/last')
    client.send('still here')
    assert.equal((await nextMessage(client)).data.toString(), 'still here')
    client.close()
    await closed(client)
  })
})
