/**
 * Failure under load (issue 5 point 6, first part): one of three targets killed while GETs flow
 * on keep-alive and fresh connections. No GET fails: requests caught on the dying target are
 * retried on another (they are idempotent), the health checks take it out, and when it comes
 * back on the same port it rejoins after `healthy_threshold` passing probes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { startGateway } from '../helpers/start-gateway.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { get, startLoad } from '../helpers/load.ts'

interface Origin {
  readonly name: string
  port: number
  server: http.Server
  sockets: Set<Socket>
}

async function startOrigin(name: string, port = 0): Promise<Origin> {
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') res.end()
    else setTimeout(() => res.end(name), 2)
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return { name, port: (server.address() as AddressInfo).port, server, sockets }
}

/** Kills an origin as a crash would: listener closed, every connection reset. */
function kill(origin: Origin): void {
  origin.server.close()
  for (const s of origin.sockets) s.destroy()
}

test(
  'a target killed under load: no failed GET, and it rejoins when it is back',
  {
    timeout: 30_000,
  },
  async () => {
    const origins = [await startOrigin('a'), await startOrigin('b'), await startOrigin('c')]
    const gw = await startGateway({
      upstreams: {
        app: {
          targets: origins.map((o) => ({ url: `http://127.0.0.1:${o.port}` })),
          health_check: {
            path: '/healthz',
            interval: '50ms',
            timeout: '40ms',
            healthy_threshold: 2,
            unhealthy_threshold: 2,
          },
        },
      },
      routes: [{ match: { prefix: '/' }, upstream: 'app', retries: { attempts: 2 } }],
    })
    const load = startLoad(`${gw.url}/x`)
    const { answers } = load
    const seen = (body: string, from: number): boolean => load.seen(body, from)
    try {
      await waitFor(() => seen('c', 0), { message: 'c serves before the crash' })

      const c = origins[2] as Origin
      kill(c)
      const afterKill = answers.length
      await waitFor(() => answers.length > afterKill + 200, { message: 'load goes on' })
      await waitFor(
        () =>
          gw.logs.some(
            (l) => (l as { msg?: string }).msg?.startsWith('upstream target unhealthy') === true,
          ),
        { message: 'c is found unhealthy' },
      )

      // Back on the same port: two passing probes, then traffic.
      const revived = await startOrigin('c', c.port)
      origins[2] = revived
      await waitFor(
        () => gw.logs.some((l) => (l as { msg?: string }).msg === 'upstream target healthy again'),
        { message: 'c rejoins' },
      )
      const rejoined = answers.length
      await waitFor(() => seen('c', rejoined), { message: 'c serves again' })
      const failed = await load.stop(['a', 'b', 'c'])
      assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${answers.length} GETs failed`)
    } finally {
      await load.stop()
      await gw.close()
      for (const o of origins) {
        o.server.close()
        for (const s of o.sockets) s.destroy()
      }
    }
  },
)

test(
  'a target that accepts but never answers is ejected after one timeout',
  {
    timeout: 30_000,
  },
  async () => {
    const good = await startOrigin('good')
    const hanging = http.createServer(() => undefined)
    const held = new Set<Socket>()
    hanging.on('connection', (s: Socket) => held.add(s))
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve))
    const hangPort = (hanging.address() as AddressInfo).port
    const gw = await startGateway({
      upstreams: {
        app: {
          targets: [
            { url: `http://127.0.0.1:${hangPort}` },
            { url: `http://127.0.0.1:${good.port}` },
          ],
          timeouts: { response_header: '300ms' },
          outlier: { consecutive_failures: 1, ejection_time: '30s', max_ejection_percent: 50 },
        },
      },
      routes: [
        {
          match: { prefix: '/' },
          upstream: 'app',
          retries: { attempts: 1, on: ['timeout', 'connect-failure', 'reset'] },
        },
      ],
    })
    try {
      const slow: number[] = []
      for (let i = 0; i < 20; i++) {
        const started = performance.now()
        assert.equal(await get(`${gw.url}/x`, false), 'good')
        const ms = performance.now() - started
        if (ms >= 250) slow.push(ms)
      }
      assert.equal(
        slow.length,
        1,
        `one request paid the timeout: ${slow.map(Math.round).join(', ')} ms`,
      )
      assert.ok(
        gw.logs.some(
          (l) =>
            (l as { msg?: string }).msg === 'upstream target ejected after consecutive failures',
        ),
      )
    } finally {
      await gw.close()
      for (const s of held) s.destroy()
      hanging.close()
      good.server.close()
      for (const s of good.sockets) s.destroy()
    }
  },
)
