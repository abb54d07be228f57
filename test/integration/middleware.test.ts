/**
 * The library API's onion middleware (SPEC §8): order, request and response header changes,
 * short-circuit answers, the upstream's status and timing after next(), a 500 JSON error without
 * details for a middleware that throws (and the gateway serving on), bodies both ways through
 * the held head, and the chain staying across a reload.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createGateway, type Context, type Middleware } from '../../src/index.ts'
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts'
import { request } from '../helpers/http-client.ts'
import { collectingLogger, type LogLine } from '../helpers/start-gateway.ts'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { onceWithin, waitFor } from '../helpers/wait-for.ts'

function config(origin: FakeUpstream, body = 'pong\n'): Record<string, unknown> {
  return {
    listeners: [{ name: 'public', address: '127.0.0.1:0' }],
    upstreams: { app: { targets: [{ url: origin.url }] } },
    routes: [
      { name: 'ping', match: { path: '/ping' }, respond: { status: 200, body } },
      { name: 'app', match: { prefix: '/app' }, upstream: 'app' },
    ],
  }
}

describe('middleware', { timeout: 30_000 }, () => {
  let origin: FakeUpstream
  const big = Buffer.alloc(1024 * 1024, 'x')

  before(async () => {
    origin = await startFakeUpstream({
      handler: (req, res, body) => {
        if (req.url === '/app/big') {
          res.end(big)
          return
        }
        if (req.url === '/app/broken') {
          // A head and part of the body, then the connection is gone.
          res.writeHead(200, { 'content-length': '100000' })
          res.write('partial', () => res.socket?.destroy())
          return
        }
        res.writeHead(req.url === '/app/teapot' ? 418 : 200, {
          'content-type': 'application/json',
          'x-origin': 'yes',
        })
        res.end(JSON.stringify({ url: req.url, headers: req.headers, body: body.length }))
      },
    })
  })

  after(() => origin.close())

  async function withGateway(
    middleware: Middleware[],
    run: (url: string, logs: LogLine[], gw: ReturnType<typeof createGateway>) => Promise<void>,
  ): Promise<void> {
    const logs: LogLine[] = []
    const gw = createGateway({ config: config(origin), logger: collectingLogger(logs), env: {} })
    for (const m of middleware) gw.use(m)
    await gw.start()
    try {
      await run(`http://${gw.addresses.listeners[0]?.address}`, logs, gw)
    } finally {
      await gw.close()
    }
  }

  test('onion order; request headers changed for the upstream; response headers after next()', async () => {
    const order: string[] = []
    const layer =
      (name: string): Middleware =>
      async (ctx, next) => {
        order.push(`${name}>`)
        ctx.requestHeaders.set(`x-${name}`, 'seen')
        await next()
        order.push(`<${name}`)
        ctx.response?.headers.append('x-order', name)
      }
    const strip: Middleware = async (ctx, next) => {
      ctx.requestHeaders.delete('x-secret')
      assert.equal(ctx.requestHeaders.get('x-secret'), undefined)
      await next()
      ctx.response?.headers.delete('x-origin')
    }
    await withGateway([layer('a'), layer('b'), strip, layer('c')], async (url) => {
      const reply = await request(`${url}/app/x`, { headers: { 'x-secret': 'hunter2' } })
      assert.equal(reply.status, 200)
      assert.deepEqual(order, ['a>', 'b>', 'c>', '<c', '<b', '<a'])
      const seen = reply.json<{ headers: Record<string, string> }>().headers
      assert.equal(seen['x-a'], 'seen')
      assert.equal(seen['x-c'], 'seen')
      assert.equal(seen['x-secret'], undefined)
      // Appended innermost first, as the chain unwinds.
      assert.equal(reply.headers['x-order'], 'c, b, a')
      assert.equal(reply.headers['x-origin'], undefined)
    })
  })

  test('a middleware answers by itself: the route and the upstream never run', async () => {
    const before = origin.requests.length
    const auth: Middleware = async (ctx, next) => {
      if (ctx.req.headers.authorization !== 'Bearer letmein') {
        ctx.respond(401, '{"error":"unauthorized"}\n', { 'content-type': 'application/json' })
        return
      }
      await next()
    }
    let laterRan = 0
    const later: Middleware = async (_ctx, next) => {
      laterRan++
      await next()
    }
    // The middleware around the one that answered see its answer, and may change it.
    const outer: Middleware = async (ctx, next) => {
      await next()
      ctx.response?.headers.set('x-outer-saw', String(ctx.response.status))
    }
    await withGateway([outer, auth, later], async (url, logs) => {
      const refused = await request(`${url}/app/x`)
      assert.equal(refused.status, 401)
      assert.equal(refused.headers['x-outer-saw'], '401')
      assert.equal(refused.text(), '{"error":"unauthorized"}\n')
      assert.equal(refused.headers['content-type'], 'application/json')
      assert.ok(refused.headers['x-request-id'])
      assert.equal(origin.requests.length, before)
      assert.equal(laterRan, 0)
      const line = logs.find((l) => l.msg === 'request' && l.status === 401)
      assert.ok(line, 'the access log has the answer')
      // A request body the answer leaves unread: the connection is closed after the answer.
      const posted = await request(`${url}/app/x`, { method: 'POST', body: 'unread body' })
      assert.equal(posted.status, 401)
      assert.equal(posted.headers.connection, 'close')
      const allowed = await request(`${url}/app/x`, {
        headers: { authorization: 'Bearer letmein' },
      })
      assert.equal(allowed.status, 200)
      assert.equal(allowed.headers['x-outer-saw'], '200')
    })
  })

  test('after next(): the upstream status and timing, and a changed status', async () => {
    const seen: Context['upstream'][] = []
    const timing: Middleware = async (ctx, next) => {
      const started = performance.now()
      await next()
      seen.push(ctx.upstream)
      ctx.response?.headers.set('x-response-time', `${(performance.now() - started).toFixed(1)}ms`)
      if (ctx.response?.status === 418) ctx.response.status = 503
    }
    await withGateway([timing], async (url) => {
      const ok = await request(`${url}/app/x`)
      assert.equal(ok.status, 200)
      assert.match(String(ok.headers['x-response-time']), /^\d+\.\dms$/)
      const teapot = await request(`${url}/app/teapot`)
      assert.equal(teapot.status, 503)
      const [first, second] = seen
      assert.ok(first && second)
      assert.equal(first.name, 'app')
      assert.equal(first.target, origin.url)
      assert.equal(first.status, 200)
      assert.ok(first.durationMs >= 0)
      assert.equal(second.status, 418)
      // A `respond` route and a 404: no upstream, but the head can be changed all the same.
      const pong = await request(`${url}/ping`)
      assert.equal(pong.text(), 'pong\n')
      assert.ok(pong.headers['x-response-time'])
      assert.equal(seen[2], null)
      const missing = await request(`${url}/nowhere`)
      assert.equal(missing.status, 404)
      assert.ok(missing.headers['x-response-time'])
    })
  })

  test('bodies pass both ways while the head is held', async () => {
    const noop: Middleware = async (_ctx, next) => {
      await next()
    }
    await withGateway([noop], async (url) => {
      const posted = await request(`${url}/app/post`, { method: 'POST', body: 'x'.repeat(300_000) })
      assert.equal(posted.json<{ body: number }>().body, 300_000)
      const large = await request(`${url}/app/big`)
      assert.equal(large.body.length, big.length)
    })
  })

  test('a middleware slow after next(): the body waits, the upstream paused, then streams whole', async () => {
    const slow: Middleware = async (ctx, next) => {
      await next()
      // Long enough for far more than 64 KiB of the 1 MiB body to arrive meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 100))
      ctx.response?.headers.set('x-waited', 'yes')
    }
    await withGateway([slow], async (url) => {
      const large = await request(`${url}/app/big`)
      assert.equal(large.headers['x-waited'], 'yes')
      assert.ok(large.body.equals(big))
    })
  })

  test('an upstream body that fails while the head is held becomes a clean 502', async () => {
    const statuses: number[] = []
    const watch: Middleware = async (ctx, next) => {
      await next()
      statuses.push(ctx.response?.status ?? 0)
      // Held until the gateway has seen the upstream fail: the 200 it held is replaced.
      await waitFor(() => ctx.response?.status === 502, { message: 'the head becomes a 502' })
    }
    await withGateway([watch], async (url, logs) => {
      const reply = await request(`${url}/app/broken`)
      assert.equal(reply.status, 502)
      assert.equal(reply.json<{ status: number }>().status, 502)
      assert.deepEqual(statuses, [200])
      await waitFor(() => logs.some((l) => l.msg === 'request' && l.path === '/app/broken'))
      assert.equal(logs.find((l) => l.msg === 'request' && l.path === '/app/broken')?.status, 502)
    })
  })

  test('what ctx tells, and respond() misuse', async () => {
    const seen: Record<string, unknown>[] = []
    const errors: string[] = []
    const look: Middleware = async (ctx, next) => {
      seen.push({
        method: ctx.method,
        path: ctx.path,
        query: ctx.query,
        host: ctx.host,
        clientIp: ctx.clientIp,
        requestId: ctx.requestId,
        routeBefore: ctx.route,
      })
      ctx.state['user'] = 'ada'
      for (const status of [99, 1000, 2.5]) {
        try {
          ctx.respond(status)
        } catch (err) {
          errors.push((err as Error).message)
        }
      }
      await next()
      seen.push({ route: ctx.route, user: ctx.state['user'] })
      try {
        ctx.respond(200)
      } catch (err) {
        errors.push((err as Error).message)
      }
    }
    await withGateway([look], async (url) => {
      const reply = await request(`${url}/app/./a/../b?x=1`, {
        headers: { host: 'example.test', 'x-request-id': 'abc-123' },
      })
      assert.equal(reply.status, 200)
      assert.deepEqual(seen[0], {
        method: 'GET',
        path: '/app/b',
        query: '?x=1',
        host: 'example.test',
        clientIp: '127.0.0.1',
        requestId: 'abc-123',
        routeBefore: null,
      })
      assert.deepEqual(seen[1], { route: 'app', user: 'ada' })
      assert.equal(errors.length, 4)
      assert.match(errors[0] ?? '', /invalid status 99/)
      assert.match(errors[3] ?? '', /after next\(\)/)
    })
  })

  test('a middleware that throws gets a 500 JSON error without details; the gateway serves on', async () => {
    let mode = 'before'
    const flaky: Middleware = async (_ctx, next) => {
      if (mode === 'before') throw new Error('boom before next')
      if (mode === 'twice') {
        await next()
        await next()
        return
      }
      if (mode === 'idle') return
      await next()
      if (mode === 'after') throw new Error('boom after next')
    }
    await withGateway([flaky], async (url, logs) => {
      for (const m of ['before', 'after', 'twice', 'idle']) {
        mode = m
        const reply = await request(`${url}/app/x`)
        assert.equal(reply.status, 500, m)
        const body = reply.json<Record<string, unknown>>()
        assert.deepEqual(Object.keys(body).sort(), ['error', 'request_id', 'status'], m)
        assert.doesNotMatch(reply.text(), /boom|at |next\(\)/, m)
      }
      mode = 'ok'
      assert.equal((await request(`${url}/app/x`)).status, 200)
      const failures = logs.filter((l) => l.msg === 'a middleware failed')
      assert.equal(failures.length, 4)
      assert.match(JSON.stringify(failures[0]), /boom before next/)
    })
  })

  test('a head a middleware made invalid, or next() after respond(): 500, and the gateway serves on', async () => {
    let mode = ''
    const breaker: Middleware = async (ctx, next) => {
      if (mode === 'respond-then-next') {
        ctx.respond(200, 'early')
        await next()
        return
      }
      await next()
      const head = ctx.response
      if (head === null) return
      if (mode === 'status') head.status = 1000
      if (mode === 'header') head.headers.set('x-bad', 'line\r\nbreak')
    }
    await withGateway([breaker], async (url, logs, gw) => {
      for (const m of ['status', 'header', 'respond-then-next']) {
        mode = m
        for (const path of ['/app/x', '/ping', '/nowhere']) {
          const reply = await request(`${url}${path}`)
          assert.equal(reply.status, 500, `${m} ${path}`)
          assert.equal(reply.json<{ error: string }>().error, 'internal error')
        }
      }
      mode = ''
      assert.equal((await request(`${url}/app/x`)).status, 200)
      const failures = logs.filter((l) => l.msg === 'a middleware failed')
      assert.equal(failures.length, 9)
      assert.match(JSON.stringify(failures[0]), /invalid response head/)
      // Nothing left running on the upstream side: every attempt finished.
      assert.equal(gw.upstreamsReport()[0]?.targets[0]?.in_flight, 0)
    })
  })

  test('upgrade requests (WebSocket) run the chain too: refused, let through with a header, or 500', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await onceWithin(wss, 'listening')
    const upgrades: IncomingMessage[] = []
    wss.on('connection', (ws, req) => {
      upgrades.push(req)
      ws.on('message', (data: Buffer) => ws.send(`echo:${data.toString('utf8')}`))
    })
    const wsUrl = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`
    const seen: (string | null)[] = []
    const auth: Middleware = async (ctx, next) => {
      if (ctx.req.headers['sec-websocket-protocol'] === 'boom') throw new Error('boom')
      if (ctx.req.headers.authorization !== 'Bearer letmein') {
        ctx.respond(401, 'unauthorized\n', { 'www-authenticate': 'Bearer' })
        return
      }
      ctx.requestHeaders.set('x-user', 'ada')
      await next()
      seen.push(ctx.route, ctx.path)
      assert.equal(ctx.response, null)
    }
    const logs: LogLine[] = []
    const gw = createGateway({
      config: {
        listeners: [{ name: 'public', address: '127.0.0.1:0' }],
        upstreams: { ws: { targets: [{ url: wsUrl }] } },
        routes: [{ name: 'socket', match: { prefix: '/socket' }, upstream: 'ws' }],
      },
      logger: collectingLogger(logs),
      env: {},
    })
    gw.use(auth)
    await gw.start()
    const base = `ws://${gw.addresses.listeners[0]?.address}/socket`
    /** The refusal's status and body, or 'open'. */
    const attempt = (opts: ConstructorParameters<typeof WebSocket>[2], protocol?: string) =>
      new Promise<{ status: number; body: string; ws?: WebSocket }>((resolve, reject) => {
        const ws = new WebSocket(base, protocol, opts)
        ws.on('open', () => resolve({ status: 101, body: '', ws }))
        ws.on('error', reject)
        ws.on('unexpected-response', (_req, res: IncomingMessage) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (d: string) => (body += d))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        })
      })
    try {
      const refused = await attempt({})
      assert.equal(refused.status, 401)
      assert.equal(refused.body, 'unauthorized\n')
      assert.equal(upgrades.length, 0, 'the origin never saw it')
      const failed = await attempt({ headers: { authorization: 'Bearer letmein' } }, 'boom')
      assert.equal(failed.status, 500)
      assert.doesNotMatch(failed.body, /boom/)
      const open = await attempt({ headers: { authorization: 'Bearer letmein' } })
      assert.equal(open.status, 101)
      const ws = open.ws as WebSocket
      ws.send('hi')
      const [reply] = await onceWithin<[Buffer]>(ws, 'message')
      assert.equal(reply.toString('utf8'), 'echo:hi')
      assert.equal(upgrades[0]?.headers['x-user'], 'ada')
      assert.deepEqual(seen, ['socket', '/socket'])
      ws.terminate()
      assert.equal(logs.filter((l) => l.msg === 'a middleware failed').length, 1)
    } finally {
      await gw.close()
      await new Promise<void>((r) => wss.close(() => r()))
    }
  })

  test('the chain stays across a reload and sees the version each request runs on', async () => {
    const versions: string[] = []
    const record: Middleware = async (ctx, next) => {
      versions.push(ctx.configVersion)
      await next()
    }
    await withGateway([record], async (url, _logs, gw) => {
      assert.equal((await request(`${url}/ping`)).text(), 'pong\n')
      const result = await gw.reload(config(origin, 'pong two\n'))
      assert.equal(result.outcome, 'applied')
      assert.equal((await request(`${url}/ping`)).text(), 'pong two\n')
      assert.equal(versions.length, 2)
      assert.notEqual(versions[0], versions[1])
      assert.equal(versions[1], gw.configVersion)
    })
  })
})
