/**
 * DNS discovery (issue 5 point 2): the A/AAAA records of a name are the targets, resolved again
 * every interval. A real DNS server (test/helpers/dns-server.ts) answers on loopback; the two
 * targets are 127.0.0.1:P and [::1]:P, one origin on each, so an A and an AAAA record name them.
 * A record added or removed changes the targets under load with no failed GET and without
 * touching the target that stays (same TargetRef and pool, same snapshot); a failed or empty resolution keeps
 * the last good set; a reload that keeps the discovery keeps its answer.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { startDnsServer } from '../helpers/dns-server.ts'
import { startLoad } from '../helpers/load.ts'
import { request } from '../helpers/http-client.ts'
import { startGateway, type LogLine } from '../helpers/start-gateway.ts'
import { waitFor } from '../helpers/wait-for.ts'

interface Origin {
  readonly server: http.Server
  readonly port: number
  close(): void
}

async function startOrigin(name: string, host: string, port: number): Promise<Origin> {
  const sockets = new Set<Socket>()
  const server = http.createServer((_req, res) => res.end(name))
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.close()
      for (const s of sockets) s.destroy()
    },
  }
}

/** Origin `a` on 127.0.0.1:P and `b` on [::1]:P (the same P; a few tries if ::1's is taken). */
async function originPair(): Promise<[Origin, Origin]> {
  for (let i = 0; i < 10; i++) {
    const a = await startOrigin('a', '127.0.0.1', 0)
    try {
      return [a, await startOrigin('b', '::1', a.port)]
    } catch {
      a.close()
    }
  }
  throw new Error('no port free on both 127.0.0.1 and ::1')
}

function messages(logs: readonly LogLine[]): string[] {
  return logs.map((l) => String((l as { msg?: unknown }).msg))
}

test(
  'DNS discovery follows the records under load and keeps the last good set',
  { timeout: 30_000 },
  async () => {
    const dns = await startDnsServer()
    const [a, b] = await originPair()
    dns.set('svc.test', ['127.0.0.1'])
    const discovery = {
      dns: { name: 'svc.test', port: a.port, interval: '100ms', servers: [dns.address] },
    }
    const config = (tag: string): Record<string, unknown> => ({
      listeners: [{ name: 'public', address: '127.0.0.1:0' }],
      admin: { address: '127.0.0.1:0' },
      upstreams: { app: { discovery } },
      routes: [
        {
          match: { prefix: '/' },
          upstream: 'app',
          retries: { attempts: 2 },
          headers: { response: { set: { 'x-tag': tag } } },
        },
      ],
    })
    const gw = await startGateway(config('one'))
    const load = startLoad(`${gw.url}/x`)
    try {
      // Warmed before serving: the first answers already come from the discovered target.
      await waitFor(() => load.answers.length >= 20, { message: 'load flows' })
      assert.deepEqual([...new Set(load.answers)], ['a'])
      const report = await request(`${gw.adminUrl}/upstreams`)
      type Report = { upstreams: { discovery: string; targets: { url: string }[] }[] }
      const app = (JSON.parse(report.text()) as Report).upstreams[0]
      assert.equal(app?.discovery, `dns svc.test:${a.port}`)
      assert.deepEqual(
        app.targets.map((t) => t.url),
        [`http://127.0.0.1:${a.port}`],
      )

      // An AAAA record joins: b gets traffic; a keeps its TargetRef and pool, and nothing else
      // is rebuilt (the same snapshot serves).
      const aUrl = `http://127.0.0.1:${a.port}`
      const refOf = (url: string) =>
        gw.gateway.snapshot?.upstreams.get('app')?.targets.find((t) => t.key === url)
      const snapshot = gw.gateway.snapshot
      const aRef = refOf(aUrl)
      assert.ok(aRef !== undefined)
      dns.set('svc.test', ['127.0.0.1', '::1'])
      const added = load.answers.length
      await waitFor(() => load.seen('b', added), { message: 'b joins' })
      assert.equal(gw.gateway.snapshot, snapshot)
      assert.equal(refOf(aUrl), aRef)
      assert.equal(refOf(aUrl)?.pool.closed, false)

      // The resolver fails (SERVFAIL, then silence), then the name vanishes: the set stays.
      for (const mode of ['servfail', 'silent'] as const) {
        dns.mode(mode)
        const asked = dns.queries()
        await waitFor(() => dns.queries() >= asked + 2, {
          message: `${mode} is asked`,
          timeoutMs: 10_000,
        })
      }
      dns.mode('answer')
      dns.set('svc.test', [])
      const asked = dns.queries()
      await waitFor(() => dns.queries() >= asked + 2, { message: 'NXDOMAIN is asked' })
      const during = load.answers.length
      await waitFor(() => load.seen('a', during) && load.seen('b', during), {
        message: 'both targets still serve',
      })
      assert.ok(messages(gw.logs).includes('discovery failing: keeping the last known targets'))

      // A reload that keeps the discovery keeps its answer: both targets serve at once after it.
      dns.set('svc.test', ['127.0.0.1', '::1'])
      const result = await gw.gateway.reload(config('two'))
      assert.equal(result.outcome, 'applied', JSON.stringify(result))
      assert.equal(gw.gateway.snapshot?.upstreams.get('app')?.targets.length, 2)

      // The A record goes: a leaves, b serves everything, no GET failed throughout.
      dns.set('svc.test', ['::1'])
      await waitFor(() => gw.gateway.snapshot?.upstreams.get('app')?.targets.length === 1, {
        message: 'a leaves',
      })
      const removed = load.answers.length
      await waitFor(() => load.answers.length > removed + 50, { message: 'load goes on' })
      assert.equal(load.seen('a', removed + 10), false, 'no traffic to a once it left')
      const failed = await load.stop(['a', 'b'])
      assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${load.answers.length} failed`)
    } finally {
      await load.stop()
      await gw.close()
      a.close()
      b.close()
      await dns.close()
    }
  },
)

test('without servers the system resolver answers (localhost from /etc/hosts)', async () => {
  const origin = await startOrigin('local', '127.0.0.1', 0)
  const gw = await startGateway({
    upstreams: { app: { discovery: { dns: { name: 'localhost', port: origin.port } } } },
    routes: [{ match: { prefix: '/' }, upstream: 'app', retries: { attempts: 2 } }],
  })
  try {
    const reply = await request(`${gw.url}/`)
    assert.equal(reply.text(), 'local', `status ${reply.status}`)
  } finally {
    await gw.close()
    origin.close()
  }
})

test(
  'a name that never resolves: the gateway starts after the warm-up and answers 503',
  { timeout: 20_000 },
  async () => {
    const dns = await startDnsServer()
    const gw = await startGateway({
      upstreams: {
        app: { discovery: { dns: { name: 'missing.test', port: 80, servers: [dns.address] } } },
      },
      routes: [{ match: { prefix: '/' }, upstream: 'app' }],
    })
    try {
      const reply = await request(`${gw.url}/`)
      assert.equal(reply.status, 503)
      assert.ok(
        messages(gw.logs).includes(
          'no targets discovered yet: the upstream answers 503 until its discovery answers',
        ),
      )
    } finally {
      await gw.close()
      await dns.close()
    }
  },
)

test(
  'close() during a reload that waits for discovery: no listener is left open after it',
  { timeout: 20_000 },
  async () => {
    const dns = await startDnsServer()
    dns.mode('silent')
    const gw = await startGateway({
      routes: [{ match: { path: '/ping' }, respond: { status: 200, body: 'pong' } }],
    })
    try {
      const reloading = gw.gateway.reload({
        listeners: [
          { name: 'public', address: '127.0.0.1:0' },
          { name: 'second', address: '127.0.0.1:0' },
        ],
        upstreams: {
          app: { discovery: { dns: { name: 'slow.test', port: 80, servers: [dns.address] } } },
        },
        routes: [{ match: { prefix: '/' }, upstream: 'app' }],
      })
      await waitFor(() => dns.queries() > 0, { message: 'the warm-up has begun' })
      await gw.gateway.close()
      await reloading
      assert.deepEqual(gw.gateway.addresses.listeners, [])
    } finally {
      await gw.close()
      await dns.close()
    }
  },
)
