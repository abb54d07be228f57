/**
 * Forwarding end to end on real sockets: headers both ways, rewrites, respond/redirect/split,
 * request ids, connection pooling, and the JSON error body.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts'
import { startGateway, type TestGateway } from '../helpers/start-gateway.ts'
import { rawExchange, request, statusOf } from '../helpers/http-client.ts'
import { createSeededRandom } from '../helpers/seeded-random.ts'

describe('forwarding', () => {
  let a: FakeUpstream
  let b: FakeUpstream
  let gw: TestGateway

  before(async () => {
    a = await startFakeUpstream()
    b = await startFakeUpstream()
    gw = await startGateway(
      {
        upstreams: {
          a: { targets: [{ url: a.url }] },
          b: { targets: [{ url: b.url }] },
        },
        routes: [
          {
            name: 'api',
            match: { prefix: '/api' },
            upstream: 'a',
            rewrite: { strip_prefix: '/api', add_prefix: '/v1' },
            headers: {
              request: { set: { 'x-env': 'prod' }, add: { 'x-extra': 'one' }, remove: ['cookie'] },
              response: { set: { 'x-served-by': 'hitless' }, remove: ['server'] },
            },
          },
          {
            name: 'rx',
            match: { regex: '^/items/(\\d+)$' },
            upstream: 'a',
            rewrite: { regex: ['^/items/(\\d+)$', '/catalog/item-$1'], host: 'catalog.internal' },
          },
          { name: 'plain', match: { prefix: '/plain' }, upstream: 'a' },
          {
            name: 'split',
            match: { prefix: '/split' },
            split: [
              { upstream: 'a', weight: 1 },
              { upstream: 'b', weight: 3 },
            ],
          },
          {
            name: 'ping',
            match: { path: '/ping' },
            respond: { status: 200, body: 'pong\n', headers: { 'content-type': 'text/plain' } },
          },
          {
            name: 'moved',
            match: { prefix: '/old' },
            redirect: { location: 'https://new.example{path}{query}', status: 301 },
          },
        ],
      },
      { random: createSeededRandom(7) },
    )
  })

  after(async () => {
    await gw.close()
    await a.close()
    await b.close()
  })

  test('forwards with rewrite, X-Forwarded-* and request header rules', async () => {
    const res = await request(`${gw.url}/api/users/1?x=1`, {
      headers: { host: 'api.example.com', cookie: 'secret=1', 'x-forwarded-for': '10.1.1.1' },
    })
    assert.equal(res.status, 200)
    const seen = a.requests.at(-1)!
    assert.equal(seen.url, '/v1/users/1?x=1')
    assert.equal(seen.headers.host, 'api.example.com', 'Host is preserved')
    assert.equal(seen.headers['x-forwarded-for'], '10.1.1.1, 127.0.0.1')
    assert.equal(seen.headers['x-forwarded-proto'], 'http')
    assert.equal(seen.headers['x-forwarded-host'], 'api.example.com')
    assert.equal(seen.headers['x-real-ip'], '127.0.0.1')
    assert.equal(seen.headers['x-env'], 'prod')
    assert.equal(seen.headers['x-extra'], 'one')
    assert.equal(seen.headers.cookie, undefined)
    assert.match(String(seen.headers['x-request-id']), /^[0-9a-f-]{36}$/)
    assert.equal(res.headers['x-request-id'], seen.headers['x-request-id'], 'id echoed')
    assert.equal(res.headers['x-served-by'], 'hitless')
  })

  test('keeps a valid client X-Request-Id and replaces an invalid one', async () => {
    const kept = await request(`${gw.url}/plain/a`, { headers: { 'x-request-id': 'abc-123' } })
    assert.equal(kept.headers['x-request-id'], 'abc-123')
    assert.equal(a.requests.at(-1)!.headers['x-request-id'], 'abc-123')
    const replaced = await request(`${gw.url}/plain/a`, {
      headers: { 'x-request-id': 'bad id with spaces' },
    })
    assert.notEqual(replaced.headers['x-request-id'], 'bad id with spaces')
    assert.match(String(replaced.headers['x-request-id']), /^[0-9a-f-]{36}$/)
  })

  test('strips hop-by-hop headers both ways, including those named in Connection', async () => {
    a.setHandler((_req, res) => {
      res.setHeader('connection', 'x-up-hop')
      res.setHeader('x-up-hop', 'secret')
      res.setHeader('keep-alive', 'timeout=5')
      res.setHeader('x-up-kept', 'yes')
      res.setHeader('server', 'origin/1.0')
      res.end('ok')
    })
    try {
      const res = await request(`${gw.url}/api/h`, {
        headers: {
          connection: 'keep-alive, x-client-hop',
          'x-client-hop': 'drop me',
          'proxy-connection': 'keep-alive',
          te: 'trailers',
          'x-client-kept': 'yes',
        },
      })
      const seen = a.requests.at(-1)!
      assert.equal(seen.headers['x-client-hop'], undefined)
      assert.equal(seen.headers['proxy-connection'], undefined)
      assert.equal(seen.headers['te'], undefined)
      assert.equal(seen.headers['x-client-kept'], 'yes')
      assert.equal(res.headers['x-up-hop'], undefined)
      assert.equal(res.headers['x-up-kept'], 'yes')
      assert.equal(res.headers['server'], undefined, 'response remove rule')
    } finally {
      a.setHandler((req, res, body) => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ url: req.url, bytes: body.length }))
      })
    }
  })

  test('regex rewrite and host rewrite', async () => {
    const res = await request(`${gw.url}/items/42`)
    assert.equal(res.status, 200)
    const seen = a.requests.at(-1)!
    assert.equal(seen.url, '/catalog/item-42')
    assert.equal(seen.headers.host, 'catalog.internal')
  })

  test('respond and redirect are answered by the gateway', async () => {
    const pong = await request(`${gw.url}/ping`)
    assert.equal(pong.status, 200)
    assert.equal(pong.text(), 'pong\n')
    assert.equal(pong.headers['content-type'], 'text/plain')
    assert.ok(pong.headers['x-request-id'])
    const head = await request(`${gw.url}/ping`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(head.body.length, 0)
    const moved = await request(`${gw.url}/old/docs?page=2`)
    assert.equal(moved.status, 301)
    assert.equal(moved.headers.location, 'https://new.example/old/docs?page=2')
  })

  test('split sends traffic by weight', async () => {
    const before = { a: a.requests.length, b: b.requests.length }
    for (let i = 0; i < 200; i++) assert.equal((await request(`${gw.url}/split/x`)).status, 200)
    const toA = a.requests.length - before.a
    const toB = b.requests.length - before.b
    assert.equal(toA + toB, 200)
    assert.ok(toB > toA * 2 && toB < toA * 4.5, `expected about 1:3, got ${toA}:${toB}`)
  })

  test('404 with the JSON error body and no stack', async () => {
    const res = await request(`${gw.url}/nothing-here`)
    assert.equal(res.status, 404)
    assert.equal(res.headers['content-type'], 'application/json')
    const body = res.json()
    assert.deepEqual(Object.keys(body).sort(), ['error', 'request_id', 'status'])
    assert.equal(body.status, 404)
    assert.equal(body.request_id, res.headers['x-request-id'])
  })

  test('a path escaping the root gets 400 and never reaches an upstream', async () => {
    const count = a.requests.length
    const { text } = await rawExchange(
      gw.port,
      'GET /api/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n',
    )
    assert.equal(statusOf(text), 400)
    assert.match(text, /"status":400/)
    assert.equal(a.requests.length, count)
  })

  test('dot segments are normalised before matching and forwarding', async () => {
    const { text } = await rawExchange(
      gw.port,
      'GET /x/../api/./a/%7Euser HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    )
    assert.equal(statusOf(text), 200)
    assert.equal(a.requests.at(-1)!.url, '/v1/a/~user')
  })

  test('reuses upstream keep-alive connections', async () => {
    const up = await startFakeUpstream()
    const g = await startGateway({
      upstreams: { u: { targets: [{ url: up.url }] } },
      routes: [{ match: { prefix: '/' }, upstream: 'u' }],
    })
    try {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      for (let i = 0; i < 20; i++)
        assert.equal((await request(`${g.url}/r${i}`, { agent })).status, 200)
      agent.destroy()
      assert.equal(up.requests.length, 20)
      assert.equal(up.connections, 1, 'one pooled upstream connection served all requests')
    } finally {
      await g.close()
      await up.close()
    }
  })

  test('one access-log line per request with route, upstream, target, status, bytes, id', async () => {
    const res = await request(`${gw.url}/plain/logged`)
    const id = res.headers['x-request-id']
    const line = gw.logs.find((l) => l.request_id === id)
    assert.ok(line, 'access log line present')
    assert.equal(line.route, 'plain')
    assert.equal(line.upstream, 'a')
    assert.equal(line.target, a.url)
    assert.equal(line.status, 200)
    assert.equal(line.bytes, res.body.length)
    assert.equal(typeof line.duration_ms, 'number')
    assert.equal(line.config_version, gw.gateway.configVersion)
  })
})
