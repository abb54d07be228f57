/**
 * Graceful stop of the real CLI process (SPEC §5, first bullet): on SIGTERM readiness turns
 * 503, new connections are refused, idle keep-alive connections close, a slow in-flight request
 * completes (told `Connection: close`), and the process exits 0; a second signal exits at once.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { startFakeUpstream } from '../helpers/fake-upstream.ts'
import { spawnGateway } from '../helpers/spawn-gateway.ts'
import { startGateway } from '../helpers/start-gateway.ts'
import { request, connectRefused } from '../helpers/http-client.ts'
import { onceWithin, waitFor } from '../helpers/wait-for.ts'

function adminPort(logs: Record<string, unknown>[]): number {
  const serving = logs.find((l) => typeof l['admin'] === 'string')
  const admin = typeof serving?.['admin'] === 'string' ? serving['admin'] : ''
  return Number(admin.slice(admin.lastIndexOf(':') + 1))
}

describe('graceful stop', () => {
  test('SIGTERM: 503 readiness, idle closed, new refused, in-flight completes, exit 0', async () => {
    let held: ServerResponse | null = null
    const origin = await startFakeUpstream({
      handler: (req, res) => {
        if (req.url === '/slow') held = res
        else res.end('fast')
      },
    })
    const gw = await spawnGateway({
      admin: { address: '127.0.0.1:0' },
      defaults: { drain_timeout: '20s' },
      upstreams: { o: { targets: [{ url: origin.url }] } },
      routes: [{ match: { prefix: '/' }, upstream: 'o' }],
    })
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const admin = adminPort(gw.logs)
      // An idle keep-alive connection, left open by the agent after one request.
      assert.equal((await request(`${gw.url}/fast`, { agent })).status, 200)
      const idleSocket = Object.values(agent.freeSockets).flat()[0]
      assert.ok(idleSocket, 'the agent keeps one idle socket')
      const idleClosed = onceWithin(idleSocket, 'close', 5000)

      const slow = request(`${gw.url}/slow`)
      await waitFor(() => held !== null, { message: 'slow request reached the origin' })

      const exited = onceWithin<[number | null]>(gw.child, 'exit', 15_000)
      process.kill(gw.pid, 'SIGTERM')
      await waitFor(
        async () =>
          (await request(`http://127.0.0.1:${admin}/readyz`).catch(() => ({ status: 0 })))
            .status === 503,
        { message: 'readiness turns 503' },
      )
      await idleClosed
      await waitFor(() => connectRefused(gw.port), { message: 'new connections refused' })

      ;(held as ServerResponse | null)?.end('slow done')
      const res = await slow
      assert.equal(res.status, 200)
      assert.equal(res.text(), 'slow done')
      assert.equal(res.headers.connection, 'close')
      const [code] = await exited
      assert.equal(code, 0)
      assert.ok(gw.logs.some((l) => l['msg'] === 'stopped'))
    } finally {
      agent.destroy()
      await gw.close()
      await origin.close()
    }
  })

  test('at drain_timeout a WebSocket gets a 1001 close frame each way, then exit 0', async () => {
    const echo = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    const originClose: { code: number | null } = { code: null }
    echo.on('connection', (ws) => {
      ws.on('message', (data) => ws.send(data))
      ws.on('close', (code) => (originClose.code = code))
    })
    await onceWithin(echo, 'listening')
    const echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`
    const gw = await spawnGateway({
      defaults: { drain_timeout: '300ms' },
      upstreams: { echo: { targets: [{ url: echoUrl }] } },
      routes: [{ match: { prefix: '/' }, upstream: 'echo' }],
    })
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws`)
      await onceWithin(ws, 'open')
      // A large message first: the tunnel has relayed multi-chunk frames before the close.
      const big = 'x'.repeat(200_000)
      const echoed = onceWithin<[Buffer]>(ws, 'message')
      ws.send(big)
      assert.equal((await echoed)[0].toString().length, big.length)
      const closed = onceWithin<[number, Buffer]>(ws, 'close', 10_000)
      const exited = onceWithin<[number | null]>(gw.child, 'exit', 10_000)
      process.kill(gw.pid, 'SIGTERM')
      const [code] = await closed
      assert.equal(code, 1001, 'the client sees "going away", not an abnormal closure (1006)')
      await waitFor(() => originClose.code !== null, { message: 'the origin sees the close' })
      assert.equal(originClose.code, 1001)
      assert.equal((await exited)[0], 0)
    } finally {
      await gw.close()
      echo.close()
    }
  })

  test('a second signal exits at once, without waiting for the in-flight request', async () => {
    let reached = false
    const origin = await startFakeUpstream({
      handler: () => {
        reached = true
      },
    })
    const gw = await spawnGateway({
      defaults: { drain_timeout: '30s' },
      upstreams: { o: { targets: [{ url: origin.url }] } },
      routes: [{ match: { prefix: '/' }, upstream: 'o' }],
    })
    try {
      const pending = request(`${gw.url}/hang`).catch((err: Error) => err)
      await waitFor(() => reached, { message: 'request reached the origin' })
      const exited = onceWithin<[number | null]>(gw.child, 'exit', 5000)
      process.kill(gw.pid, 'SIGTERM')
      await waitFor(() => gw.logs.some((l) => l['msg'] === 'draining'), { message: 'draining' })
      process.kill(gw.pid, 'SIGTERM')
      const [code] = await exited
      assert.equal(code, 1)
      assert.ok((await pending) instanceof Error, 'the hung request was cut')
    } finally {
      await gw.close()
      await origin.close()
    }
  })
})

test('a reload asked for while the gateway stops is refused, and nothing new is opened', async () => {
  const origin = await startFakeUpstream()
  const gw = await startGateway({
    upstreams: { o: { targets: [{ url: origin.url }] } },
    routes: [{ match: { prefix: '/' }, upstream: 'o' }],
  })
  try {
    const closing = gw.gateway.close()
    const result = await gw.gateway.reload({
      listeners: [{ name: 'public', address: '127.0.0.1:0' }],
      upstreams: { o: { targets: [{ url: origin.url }] } },
      routes: [{ match: { prefix: '/new' }, upstream: 'o' }],
    })
    assert.ok(result.outcome === 'rejected', result.outcome)
    assert.match(result.errors[0]?.message ?? '', /the gateway is stopping/)
    await closing
    assert.equal(gw.gateway.upstreamPoolCount, 0, 'no pool left behind by a late reload')
  } finally {
    await gw.close()
    await origin.close()
  }
})
