/**
 * Active health checks (SPEC §3 "Load balancing and health", issue 5 point 1, first part): a
 * target failing `unhealthy_threshold` probes in a row gets no traffic while a healthy one
 * exists; none healthy answers 503 at once; `healthy_threshold` passes bring it back; the state
 * survives a reload that keeps the target; transitions are logged, exported as
 * `hitless_upstream_target_healthy` and shown by GET /upstreams.
 */
import { test } from 'node:test'
import net from 'node:net'
import assert from 'node:assert/strict'
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts'
import { request } from '../helpers/http-client.ts'
import { startGateway } from '../helpers/start-gateway.ts'
import { waitFor } from '../helpers/wait-for.ts'

/** An origin answering its name, whose /healthz status the test sets. */
async function origin(name: string): Promise<FakeUpstream & { health: { status: number } }> {
  const health = { status: 200 }
  const up = await startFakeUpstream({
    handler: (req, res) => {
      if (req.url === '/healthz') {
        res.statusCode = health.status
        res.end()
      } else res.end(name)
    },
  })
  return Object.assign(up, { health })
}

function config(a: FakeUpstream, b: FakeUpstream, tag: string): Record<string, unknown> {
  return {
    listeners: [{ name: 'public', address: '127.0.0.1:0' }],
    admin: { address: '127.0.0.1:0' },
    upstreams: {
      app: {
        targets: [{ url: a.url }, { url: b.url }],
        health_check: {
          path: '/healthz',
          interval: '40ms',
          timeout: '30ms',
          healthy_threshold: 2,
          unhealthy_threshold: 2,
        },
      },
    },
    routes: [
      {
        match: { prefix: '/' },
        upstream: 'app',
        retries: { attempts: 0 },
        headers: { response: { set: { 'x-tag': tag } } },
      },
    ],
  }
}

test('health checks take a failing target out and bring it back; state survives a reload', async () => {
  const a = await origin('a')
  const b = await origin('b')
  const gw = await startGateway(config(a, b, 'one')).catch(async (err: unknown) => {
    await a.close()
    await b.close()
    throw err
  })
  const answers = async (n: number): Promise<string[]> => {
    const out: string[] = []
    for (let i = 0; i < n; i++) out.push((await request(`${gw.url}/x`)).text())
    return out
  }
  const lines = (msg: string): Record<string, unknown>[] =>
    gw.logs.filter((l) => (l as { msg?: string }).msg === msg)
  try {
    assert.deepEqual(new Set(await answers(10)), new Set(['a', 'b']), 'both serve at first')

    a.health.status = 500
    await waitFor(() => lines('upstream target unhealthy: taken out of rotation').length === 1, {
      message: 'a is found unhealthy',
    })
    const [out] = lines('upstream target unhealthy: taken out of rotation')
    assert.equal(out?.['target'], a.url)
    assert.equal(out['reason'], 'status 500')
    assert.deepEqual(new Set(await answers(10)), new Set(['b']), 'no traffic to a')

    const report = (await request(`${gw.adminUrl ?? ''}/upstreams`)).json<{
      upstreams: { targets: { url: string; available: boolean; last_check: { ok: boolean } }[] }[]
    }>()
    const targets = report.upstreams[0]?.targets ?? []
    assert.deepEqual(
      targets.map((t) => [t.url, t.available, t.last_check.ok]),
      [
        [a.url, false, false],
        [b.url, true, true],
      ],
    )
    const metrics = (await request(`${gw.adminUrl ?? ''}/metrics`)).text()
    assert.match(
      metrics,
      new RegExp(`hitless_upstream_target_healthy\\{upstream="app",target="${a.url}"\\} 0`),
    )

    // A reload that keeps the target keeps what the checks found.
    const result = await gw.gateway.reload(config(a, b, 'two'))
    assert.equal(result.outcome, 'applied')
    const after = await request(`${gw.url}/x`)
    assert.deepEqual([after.headers['x-tag'], after.text()], ['two', 'b'])

    // None healthy: 503 at once, not after a connect attempt or a timeout.
    b.health.status = 503
    await waitFor(() => lines('upstream target unhealthy: taken out of rotation').length === 2, {
      message: 'b is found unhealthy',
    })
    const started = performance.now()
    const none = await request(`${gw.url}/x`)
    assert.equal(none.status, 503)
    assert.equal(none.json<{ error: string }>().error, 'no healthy upstream target')
    assert.ok(performance.now() - started < 200)

    // Two passes in a row bring a back.
    a.health.status = 200
    await waitFor(() => lines('upstream target healthy again').length === 1, {
      message: 'a is healthy again',
    })
    assert.deepEqual(new Set(await answers(6)), new Set(['a']))
  } finally {
    await gw.close()
    await a.close()
    await b.close()
  }
})

type Origin = Awaited<ReturnType<typeof origin>>

/**
 * Two origins and a gateway checking them (config `one`), torn down whatever happens; `run` gets
 * them with a wait for "a is found unhealthy" after making a's probes fail.
 */
async function withCheckedPair(
  run: (ctx: {
    a: Origin
    b: Origin
    gw: Awaited<ReturnType<typeof startGateway>>
    aGoesDown: () => Promise<void>
  }) => Promise<void>,
): Promise<void> {
  const a = await origin('a')
  const b = await origin('b')
  try {
    const gw = await startGateway(config(a, b, 'one'))
    const aGoesDown = async (): Promise<void> => {
      a.health.status = 500
      await waitFor(
        () =>
          gw.logs.some(
            (l) => (l as { msg?: string }).msg?.startsWith('upstream target unhealthy') === true,
          ),
        { message: 'a is found unhealthy' },
      )
    }
    try {
      await run({ a, b, gw, aGoesDown })
    } finally {
      await gw.close()
    }
  } finally {
    await a.close()
    await b.close()
  }
}

/** `config(...)` without the upstream's health_check. */
function withoutHealthCheck(doc: Record<string, unknown>): Record<string, unknown> {
  delete ((doc['upstreams'] as Record<string, Record<string, unknown>>)['app'] ?? {})[
    'health_check'
  ]
  return doc
}

/** The bodies of ten requests. */
async function served(url: string): Promise<Set<string>> {
  const seen = new Set<string>()
  for (let i = 0; i < 10; i++) seen.add((await request(`${url}/x`)).text())
  return seen
}

test('turning health checks off by a reload puts an unhealthy target back', () =>
  withCheckedPair(async ({ a, b, gw, aGoesDown }) => {
    await aGoesDown()
    const off = withoutHealthCheck(config(a, b, 'off'))
    assert.equal((await gw.gateway.reload(off)).outcome, 'applied')
    assert.deepEqual(await served(gw.url), new Set(['a', 'b']))
  }))

test('a reload rejected after its build leaves the health checks of the running config', async () => {
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  const busy = (blocker.address() as net.AddressInfo).port
  try {
    await withCheckedPair(async ({ a, b, gw, aGoesDown }) => {
      await aGoesDown()
      // Without health checks and with a second listener on a port in use: rejected after the
      // snapshot was built, when the listener cannot open.
      const doc = withoutHealthCheck(config(a, b, 'rejected'))
      doc['listeners'] = [
        { name: 'public', address: '127.0.0.1:0' },
        { name: 'busy', address: `127.0.0.1:${busy}` },
      ]
      assert.equal((await gw.gateway.reload(doc)).outcome, 'rejected')
      assert.deepEqual(await served(gw.url), new Set(['b']), 'a is still out: its checks run')
    })
  } finally {
    blocker.close()
  }
})
