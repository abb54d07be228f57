/**
 * Upstream failures and retries on real sockets: refused, reset, timeouts, retries on another
 * target under SPEC §3's rules (the replay buffer, idempotency, route opt-in), client aborts,
 * and a reset mid-body cutting the client's response.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { spawn } from 'node:child_process'
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts'
import { startGateway } from '../helpers/start-gateway.ts'
import { request } from '../helpers/http-client.ts'
import { onceWithin, waitFor } from '../helpers/wait-for.ts'

/** A port with nothing listening on it (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

/** A server that accepts, reads the request, then resets the connection without answering. */
async function resettingServer(): Promise<{
  url: string
  hits: () => number
  close(): Promise<void>
}> {
  let hits = 0
  const server = net.createServer((socket) => {
    socket.once('data', () => {
      hits++
      socket.resetAndDestroy()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits: () => hits,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

/**
 * A target whose TCP connect never completes: a real listener (python3, which can listen
 * without ever accepting) with a backlog of 0, its accept queue filled by connections that are
 * never accepted, so the kernel drops further SYNs and a connect hangs until its timeout.
 */
async function blackholeTarget(): Promise<{ url: string; close(): void }> {
  const script =
    'import socket,sys\n' +
    "s=socket.socket();s.bind(('127.0.0.1',0));s.listen(0)\n" +
    'print(s.getsockname()[1],flush=True);sys.stdin.read()\n'
  const py = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'ignore'] })
  const [data] = await onceWithin<[Buffer]>(py.stdout, 'data')
  const port = Number(String(data).trim())
  const fillers = [0, 1, 2].map(() => net.connect(port, '127.0.0.1').on('error', () => undefined))
  await onceWithin(fillers[0]!, 'connect')
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const f of fillers) f.destroy()
      py.kill()
    },
  }
}

describe('upstream failures', () => {
  let good: FakeUpstream
  before(async () => {
    good = await startFakeUpstream()
  })
  after(async () => {
    await good.close()
  })

  test('connection refused → 502, and retried on another target when one exists', async () => {
    const dead = await deadPort()
    const g = await startGateway({
      upstreams: {
        only: { targets: [{ url: `http://127.0.0.1:${dead}` }] },
        pair: {
          targets: [{ url: `http://127.0.0.1:${dead}` }, { url: good.url }],
        },
      },
      routes: [
        { match: { prefix: '/only' }, upstream: 'only', retries: { attempts: 0 } },
        { match: { prefix: '/pair' }, upstream: 'pair' },
      ],
    })
    try {
      const refused = await request(`${g.url}/only`)
      assert.equal(refused.status, 502)
      assert.equal(refused.json().error, 'upstream connection failed')
      assert.doesNotMatch(refused.text(), /ECONNREFUSED|at .*\.js/, 'no internals leak')
      for (let i = 0; i < 6; i++) {
        assert.equal(
          (await request(`${g.url}/pair/${i}`, { method: 'POST', body: 'x' })).status,
          200,
        )
      }
    } finally {
      await g.close()
    }
  })

  test('a connect timeout → 504, and another target is tried (nothing was sent)', async () => {
    const hole = await blackholeTarget()
    const g = await startGateway({
      upstreams: {
        alone: { targets: [{ url: hole.url }], timeouts: { connect: '150ms' } },
        pair: {
          balancer: 'round-robin',
          targets: [{ url: hole.url }, { url: good.url }],
          timeouts: { connect: '150ms' },
        },
      },
      routes: [
        { match: { prefix: '/alone' }, upstream: 'alone', retries: { attempts: 0 } },
        { match: { prefix: '/pair' }, upstream: 'pair' },
      ],
    })
    try {
      const started = Date.now()
      const timedOut = await request(`${g.url}/alone`)
      assert.equal(timedOut.status, 504)
      assert.equal(timedOut.json().error, 'upstream timed out')
      assert.ok(Date.now() - started < 3000, 'bounded by the connect timeout')
      // A POST too: a connect failure means nothing reached the target, so retrying is safe.
      for (let i = 0; i < 2; i++) {
        const res = await request(`${g.url}/pair/${i}`, { method: 'POST', body: 'x' })
        assert.equal(res.status, 200)
      }
    } finally {
      await g.close()
      hole.close()
    }
  })

  test('response_header timeout → 504', async () => {
    const slow = await startFakeUpstream({ handler: () => undefined })
    const g = await startGateway({
      upstreams: { s: { targets: [{ url: slow.url }], timeouts: { response_header: '150ms' } } },
      routes: [{ match: { prefix: '/' }, upstream: 's', retries: { attempts: 0 } }],
    })
    try {
      const res = await request(`${g.url}/slow`)
      assert.equal(res.status, 504)
      assert.equal(res.json().status, 504)
    } finally {
      await g.close()
      await slow.close()
    }
  })

  test('idle timeout cuts a response whose body stalls', async () => {
    const stall = await startFakeUpstream({
      handler: (_req, res) => {
        res.writeHead(200, { 'content-length': '100' })
        res.write('partial')
      },
    })
    const g = await startGateway({
      upstreams: { s: { targets: [{ url: stall.url }], timeouts: { idle: '150ms' } } },
      routes: [{ match: { prefix: '/' }, upstream: 's' }],
    })
    try {
      await assert.rejects(request(`${g.url}/stall`), /aborted|socket hang up|ECONNRESET/)
    } finally {
      await g.close()
      await stall.close()
    }
  })

  test('a reset GET is retried on another target; a POST whose body reached one is not', async () => {
    const reset = await resettingServer()
    const g = await startGateway({
      upstreams: {
        u: { balancer: 'round-robin', targets: [{ url: reset.url }, { url: good.url }] },
      },
      routes: [
        { name: 'default', match: { prefix: '/d' }, upstream: 'u' },
        {
          name: 'optin',
          match: { prefix: '/o' },
          upstream: 'u',
          retries: { non_idempotent: true },
        },
      ],
    })
    try {
      // Round-robin alternates, so over 4 requests each kind hits the resetting target twice.
      const gets = await Promise.all([0, 1, 2, 3].map(() => request(`${g.url}/d/get`)))
      assert.deepEqual(
        gets.map((r) => r.status),
        [200, 200, 200, 200],
      )
      const posts: number[] = []
      for (let i = 0; i < 4; i++) {
        posts.push((await request(`${g.url}/d/post`, { method: 'POST', body: 'payload' })).status)
      }
      assert.equal(posts.filter((s) => s === 502).length, 2, `posts: ${posts.join(',')}`)
      const optIn: number[] = []
      for (let i = 0; i < 4; i++) {
        optIn.push((await request(`${g.url}/o/post`, { method: 'POST', body: 'payload' })).status)
      }
      assert.deepEqual(optIn, [200, 200, 200, 200])
      const replayed = good.requests.filter((r) => r.url === '/o/post')
      assert.ok(
        replayed.every((r) => r.body.toString() === 'payload'),
        'replayed body intact',
      )
    } finally {
      await g.close()
      await reset.close()
    }
  })

  test('a body larger than the replay buffer is never replayed, even with opt-in', async () => {
    const reset = await resettingServer()
    const g = await startGateway({
      upstreams: { u: { targets: [{ url: reset.url }, { url: good.url }] } },
      routes: [{ match: { prefix: '/' }, upstream: 'u', retries: { non_idempotent: true } }],
    })
    try {
      const big = Buffer.alloc(200 * 1024, 'a')
      const statuses: number[] = []
      for (let i = 0; i < 2; i++) {
        statuses.push(
          (await request(`${g.url}/big`, { method: 'PUT', body: big }).catch(() => ({ status: 0 })))
            .status,
        )
      }
      assert.ok(statuses.includes(200), 'the good target serves')
      assert.ok(
        statuses.some((s) => s === 502 || s === 0),
        `not replayed: ${statuses.join(',')}`,
      )
    } finally {
      await g.close()
      await reset.close()
    }
  })

  test('a listed status (503) is retried on another target', async () => {
    const busy = await startFakeUpstream({
      handler: (_req, res) => {
        res.writeHead(503)
        res.end('busy')
      },
    })
    const g = await startGateway({
      upstreams: { u: { targets: [{ url: busy.url }, { url: good.url }] } },
      routes: [{ match: { prefix: '/' }, upstream: 'u' }],
    })
    try {
      const goodBefore = good.requests.length
      for (let i = 0; i < 4; i++) assert.equal((await request(`${g.url}/s`)).status, 200)
      assert.ok(busy.requests.length >= 2, 'the busy target was tried')
      assert.equal(good.requests.length - goodBefore, 4, 'every request ended on the good target')
    } finally {
      await g.close()
      await busy.close()
    }
  })

  test('a client that goes away aborts the upstream request', async () => {
    let upstreamClosed = false
    const hang = await startFakeUpstream({
      handler: (req) => {
        req.socket.on('close', () => (upstreamClosed = true))
      },
    })
    const g = await startGateway({
      upstreams: { h: { targets: [{ url: hang.url }] } },
      routes: [{ match: { prefix: '/' }, upstream: 'h' }],
    })
    try {
      const req = http.get(`${g.url}/hang`, { agent: false })
      req.on('error', () => undefined)
      await waitFor(() => hang.requests.length === 1, { message: 'request reached upstream' })
      req.destroy()
      await waitFor(() => upstreamClosed, { message: 'upstream connection aborted' })
      await waitFor(() => g.logs.some((l) => l.status === 499), { message: '499 logged' })
    } finally {
      await g.close()
      await hang.close()
    }
  })

  test('an upstream reset mid-body cuts the client response (never delivered as complete)', async () => {
    const cut = await startFakeUpstream({
      handler: (_req, res) => {
        res.writeHead(200, { 'content-length': '1000' })
        res.write(Buffer.alloc(100, 'x'), () => setImmediate(() => res.socket?.resetAndDestroy()))
      },
    })
    const chunked = await startFakeUpstream({
      handler: (_req, res) => {
        res.writeHead(200)
        res.write(Buffer.alloc(100, 'y'), () => setImmediate(() => res.socket?.resetAndDestroy()))
      },
    })
    const g = await startGateway({
      upstreams: { c: { targets: [{ url: cut.url }] }, k: { targets: [{ url: chunked.url }] } },
      routes: [
        { match: { prefix: '/c' }, upstream: 'c' },
        { match: { prefix: '/k' }, upstream: 'k' },
      ],
    })
    try {
      await assert.rejects(request(`${g.url}/c`), /aborted|hang up|ECONNRESET/)
      await assert.rejects(request(`${g.url}/k`), /aborted|hang up|ECONNRESET/)
    } finally {
      await g.close()
      await cut.close()
      await chunked.close()
    }
  })
})
