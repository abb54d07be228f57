/**
 * etcd discovery (issue 5 point 4) against a real etcd: services register one key each under a
 * prefix, with a lease; the gateway watches the prefix. A revoked lease removes its target and
 * an expired one (the service died and stopped renewing it) too, with no failed GET under load;
 * a new key adds a target; a malformed value is logged and ignored. The target set changes
 * without a rebuild: same snapshot, same pools and states for the targets that stay.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { Etcd3, type Lease } from 'etcd3'
import { startEtcd } from '../helpers/etcd-server.ts'
import { startLoad } from '../helpers/load.ts'
import { startGateway } from '../helpers/start-gateway.ts'
import { waitFor } from '../helpers/wait-for.ts'

interface Service {
  readonly name: string
  readonly url: string
  lease: Lease | null
  close(): void
}

async function startService(name: string): Promise<Service> {
  const sockets = new Set<Socket>()
  const server = http.createServer((_req, res) => res.end(name))
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    name,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    lease: null,
    close: () => {
      server.close()
      for (const s of sockets) s.destroy()
    },
  }
}

const PREFIX = '/services/app/'

test(
  'etcd discovery: leases add and remove targets under load without a failed GET or a rebuild',
  { timeout: 60_000 },
  async () => {
    const etcd = await startEtcd()
    const client = new Etcd3({ hosts: etcd.url })
    const services = [await startService('a'), await startService('b'), await startService('c')]
    const register = async (s: Service, ttl: number, keepAlive = true): Promise<void> => {
      s.lease = client.lease(ttl, { autoKeepAlive: keepAlive })
      await s.lease.put(`${PREFIX}${s.name}`).value(JSON.stringify({ url: s.url, weight: 1 }))
    }
    const [a, b, c] = services as [Service, Service, Service]
    await register(a, 30)
    await register(b, 30)
    // c's lease is not renewed: it lives 2 s after its last renewal, as when a service dies.
    await register(c, 2, false)
    await client.put(`${PREFIX}broken`).value('{"url": 42}')
    const gw = await startGateway({
      etcd: { endpoints: [etcd.url] },
      upstreams: { app: { discovery: { etcd: { prefix: PREFIX } } } },
      routes: [{ match: { prefix: '/' }, upstream: 'app', retries: { attempts: 2 } }],
    })
    const load = startLoad(`${gw.url}/x`)
    const runtime = (): { snapshotVersion: string | undefined; targets: string[] } => {
      const upstream = gw.gateway.snapshot?.upstreams.get('app')
      return {
        snapshotVersion: gw.gateway.snapshot?.version,
        targets: (upstream?.targets ?? []).map((t) => t.key).sort(),
      }
    }
    try {
      await waitFor(() => load.seen('a') && load.seen('b') && load.seen('c'), {
        message: 'all three serve',
      })
      const snapshot = gw.gateway.snapshot
      const stateOfB = snapshot?.upstreams.get('app')?.targets.find((t) => t.key === b.url)
      assert.ok(
        gw.logs.some(
          (l) =>
            (l as { msg?: string }).msg ===
              'etcd discovery: ignoring a key whose value is not a target' &&
            (l as { key?: string }).key === `${PREFIX}broken`,
        ),
        'the malformed key is logged',
      )

      // c dies: it stops answering and its lease expires; its key goes, and so does the target.
      c.close()
      await waitFor(() => !runtime().targets.includes(c.url), {
        message: 'c leaves when its lease expires',
        timeoutMs: 10_000,
      })

      // a is revoked (a graceful deregistration): it leaves at once.
      await a.lease?.revoke()
      await waitFor(() => !runtime().targets.includes(a.url), { message: 'a leaves' })
      const afterRevoke = load.answers.length
      await waitFor(() => load.answers.length > afterRevoke + 50, { message: 'load goes on' })
      assert.equal(load.seen('a', afterRevoke + 10), false, 'no traffic to a once it left')

      // A new service registers: it joins.
      const d = await startService('d')
      services.push(d)
      await register(d, 30)
      const joined = load.answers.length
      await waitFor(() => load.seen('d', joined), { message: 'd joins' })

      const failed = await load.stop(['a', 'b', 'c', 'd'])
      assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${load.answers.length} failed`)
      // Nothing was rebuilt: the same snapshot serves, and b kept its TargetRef (pool, state).
      assert.equal(gw.gateway.snapshot, snapshot)
      const bNow = gw.gateway.snapshot?.upstreams.get('app')?.targets.find((t) => t.key === b.url)
      assert.equal(bNow, stateOfB)
      assert.deepEqual(runtime().targets, [b.url, d.url].sort())
    } finally {
      await load.stop()
      await gw.close()
      for (const s of services) {
        s.lease?.release()
        s.close()
      }
      client.close()
      await etcd.close()
    }
  },
)
