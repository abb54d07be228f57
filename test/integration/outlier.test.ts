/**
 * Passive outlier ejection (SPEC §3, issue 5 point 1, second part): a target that fails
 * `consecutive_failures` proxied requests in a row gets no traffic for `ejection_time`, then
 * comes back; the ejection is logged, counted in `hitless_upstream_ejections_total` and shown
 * by GET /upstreams.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeUpstream } from '../helpers/fake-upstream.ts'
import { request } from '../helpers/http-client.ts'
import { startGateway } from '../helpers/start-gateway.ts'
import { waitFor } from '../helpers/wait-for.ts'

test('consecutive 5xx eject a target; it gets no traffic, then comes back', async () => {
  let aFails = true
  const a = await startFakeUpstream({
    handler: (_req, res) => {
      res.statusCode = aFails ? 500 : 200
      res.end('a')
    },
  })
  const b = await startFakeUpstream({
    handler: (_req, res) => {
      res.end('b')
    },
  })
  const gw = await startGateway({
    admin: { address: '127.0.0.1:0' },
    upstreams: {
      app: {
        targets: [{ url: a.url }, { url: b.url }],
        outlier: { consecutive_failures: 3, ejection_time: '400ms', max_ejection_percent: 50 },
      },
    },
    routes: [{ match: { prefix: '/' }, upstream: 'app', retries: { attempts: 0 } }],
  }).catch(async (err: unknown) => {
    await a.close()
    await b.close()
    throw err
  })
  try {
    // Round robin: every other request goes to a, which answers 500 three times in a row.
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push((await request(`${gw.url}/x`)).status)
    assert.equal(statuses.filter((s) => s === 500).length, 3)
    const ejected = gw.logs.filter(
      (l) => (l as { msg?: string }).msg === 'upstream target ejected after consecutive failures',
    )
    assert.equal(ejected.length, 1)
    assert.equal((ejected[0] as { target?: string }).target, a.url)

    for (let i = 0; i < 10; i++) assert.equal((await request(`${gw.url}/x`)).text(), 'b')
    const report = (await request(`${gw.adminUrl ?? ''}/upstreams`)).json<{
      upstreams: { targets: { url: string; available: boolean; ejections: number }[] }[]
    }>()
    assert.deepEqual(
      report.upstreams[0]?.targets.map((t) => [t.url, t.available, t.ejections]),
      [
        [a.url, false, 1],
        [b.url, true, 0],
      ],
    )
    const metrics = (await request(`${gw.adminUrl ?? ''}/metrics`)).text()
    assert.match(
      metrics,
      new RegExp(`hitless_upstream_ejections_total\\{upstream="app",target="${a.url}"\\} 1`),
    )

    // Repaired and its ejection over: a serves again.
    aFails = false
    await waitFor(
      async () => {
        const seen = new Set<string>()
        for (let i = 0; i < 4; i++) seen.add((await request(`${gw.url}/x`)).text())
        return seen.has('a')
      },
      { timeoutMs: 3000, intervalMs: 100, message: 'a comes back after ejection_time' },
    )
  } finally {
    await gw.close()
    await a.close()
    await b.close()
  }
})

test('a target removed by a reload leaves hitless_upstream_ejections_total', async () => {
  const a = await startFakeUpstream({
    handler: (_req, res) => {
      res.statusCode = 500
      res.end('a')
    },
  })
  const b = await startFakeUpstream({
    handler: (_req, res) => {
      res.end('b')
    },
  })
  const doc = (targets: string[]): Record<string, unknown> => ({
    listeners: [{ name: 'public', address: '127.0.0.1:0' }],
    admin: { address: '127.0.0.1:0' },
    upstreams: {
      app: {
        targets: targets.map((url) => ({ url })),
        outlier: { consecutive_failures: 1, ejection_time: '30s', max_ejection_percent: 50 },
      },
    },
    routes: [{ match: { prefix: '/' }, upstream: 'app', retries: { attempts: 0 } }],
  })
  const gw = await startGateway(doc([a.url, b.url]))
  try {
    for (let i = 0; i < 2; i++) await request(`${gw.url}/x`)
    const series = new RegExp(
      `hitless_upstream_ejections_total\\{upstream="app",target="${a.url}"\\}`,
    )
    assert.match((await request(`${gw.adminUrl ?? ''}/metrics`)).text(), series)
    assert.equal((await gw.gateway.reload(doc([b.url]))).outcome, 'applied')
    assert.doesNotMatch((await request(`${gw.adminUrl ?? ''}/metrics`)).text(), series)
  } finally {
    await gw.close()
    await a.close()
    await b.close()
  }
})
