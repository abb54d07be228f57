/**
 * Staged roll-out (SPEC §4.4) on real sockets under load: a failing canary rolled back at
 * `min_requests` with its share of traffic near `canary_percent`; a healthy one promoted when
 * the window ends; sticky assignment; promote and abort by hand on the admin API; a WebSocket
 * opened on the canary kept across its promotion; what a roll-out cannot change; how a new
 * document, the stable one again, or the file watcher behave during and after one.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts'
import { statusOrigin } from '../helpers/rollout-docs.ts'
import { startFileGateway, startGateway, type TestGateway } from '../helpers/start-gateway.ts'
import { request } from '../helpers/http-client.ts'
import { get } from '../helpers/load.ts'
import { createSeededRandom } from '../helpers/seeded-random.ts'
import { onceWithin, waitFor } from '../helpers/wait-for.ts'

const TOKEN = 'rollout-test-token'
const auth = { authorization: `Bearer ${TOKEN}` }

function doc(
  upstream: FakeUpstream,
  rollout?: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    listeners: [{ name: 'public', address: '127.0.0.1:0' }],
    admin: { address: '127.0.0.1:0', token_env: 'ADMIN_TOKEN' },
    upstreams: { app: { targets: [{ url: upstream.url }] } },
    routes: [{ name: 'all', match: { prefix: '/' }, upstream: 'app' }],
    ...(rollout === undefined ? {} : { rollout }),
    ...extra,
  }
}

/** GET loops (keep-alive) recording each answer with the time it arrived; bounded in count. */
function timedLoad(url: string, loops = 4, headers: () => http.OutgoingHttpHeaders = () => ({})) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: loops })
  const answers: { at: number; answer: string }[] = []
  let stopped = false
  const loop = async (): Promise<void> => {
    for (let i = 0; i < 50_000 && !stopped; i++) {
      const answer = await new Promise<string>((resolve) => {
        const req = http.get(url, { agent, headers: headers() }, (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (d: string) => (body += d))
          res.on('end', () => resolve(`${res.statusCode} ${body}`))
        })
        req.setTimeout(5000, () => req.destroy(new Error('timed out')))
        req.on('error', (err) => resolve(`error ${err.message}`))
      })
      answers.push({ at: Date.now(), answer })
    }
  }
  const running = Array.from({ length: loops }, () => loop())
  return {
    answers,
    stop: async () => {
      stopped = true
      await Promise.all(running)
      agent.destroy()
    },
  }
}

interface Side {
  version: string
  requests: number
  errors: number
  error_rate: number
}

interface RolloutJson {
  state: string
  canary: Side
  stable: Side
  canary_percent: number
  sticky: string | null
  last: { outcome: string; reason: string; canary: Side; stable: Side }
}

async function rolloutOf(gw: TestGateway): Promise<RolloutJson> {
  const reply = await request(`${gw.adminUrl}/rollout`, { headers: auth })
  assert.equal(reply.status, 200)
  return reply.json<RolloutJson>()
}

/** The next message on `ws`, as text. */
async function nextText(ws: WebSocket): Promise<string> {
  const [data] = await onceWithin<[Buffer]>(ws, 'message')
  return data.toString('utf8')
}

describe('staged roll-out', { timeout: 60_000 }, () => {
  let stable: FakeUpstream
  let failing: FakeUpstream
  let healthy: FakeUpstream

  before(async () => {
    stable = await statusOrigin(200, 'stable')
    failing = await statusOrigin(500, 'canary-fails')
    healthy = await statusOrigin(200, 'canary')
  })

  after(async () => {
    await stable.close()
    await failing.close()
    await healthy.close()
  })

  async function start(): Promise<TestGateway> {
    const gw = await startGateway(doc(stable), {
      env: { ADMIN_TOKEN: TOKEN },
      random: createSeededRandom(6),
    })
    assert.ok(gw.adminUrl)
    return gw
  }

  test('a failing canary is rolled back at min_requests; its share stays near canary_percent; stable answers everything after', async () => {
    const gw = await start()
    const load = timedLoad(gw.url)
    try {
      await waitFor(() => load.answers.length > 50, { message: 'load running' })
      const canaryAt = load.answers.length
      const rollout = { canary_percent: 20, window: '30s', max_error_rate: 0.05, min_requests: 60 }
      const result = await gw.gateway.reload(doc(failing, rollout))
      assert.equal(result.outcome, 'canary')
      await waitFor(() => gw.gateway.rolloutView().state === 'none', {
        timeoutMs: 20_000,
        message: 'rolled back',
      })
      const rolledBackAt = Date.now()
      const view = await rolloutOf(gw)
      assert.equal(view.state, 'none')
      assert.equal(view.last.outcome, 'rolled_back')
      // Every canary answer failed, so the rule was met at exactly min_requests.
      assert.equal(view.last.canary.requests, 60)
      assert.equal(view.last.canary.error_rate, 1)
      assert.equal(view.last.stable.errors, 0)
      assert.match(view.last.reason, /5xx rate 100\.0% over 60 requests/)
      // The 60th failure reached its client within a second of the rollback.
      const failures = load.answers.filter((a) => a.answer.startsWith('500'))
      const sixtieth = failures[59]
      assert.ok(sixtieth !== undefined, 'the client saw the 60 failures')
      assert.ok(rolledBackAt - sixtieth.at < 1000, `${rolledBackAt - sixtieth.at} ms`)

      // The share of requests that reached the canary, from its start to its rollback.
      const during = load.answers.slice(canaryAt).filter((a) => a.at <= sixtieth.at)
      const share = (failures.filter((a) => a.at <= sixtieth.at).length / during.length) * 100
      assert.ok(share <= 25 && share >= 15, `canary share ${share.toFixed(1)}%`)

      // Afterwards the stable version answers everything.
      const afterRollback = load.answers.length
      await waitFor(() => load.answers.length > afterRollback + 200, { message: 'more load' })
      await load.stop()
      // In-flight canary requests (at most one per loop) may still end on the canary.
      const late = load.answers.slice(afterRollback + 4).filter((a) => a.answer !== '200 stable')
      assert.deepEqual(late, [])
      assert.ok(!load.answers.some((a) => a.answer.startsWith('error')), 'no failed connection')

      const history = gw.gateway.reloads.history
      assert.equal(history[0]?.outcome, 'rolled_back')
      assert.equal(history[1]?.outcome, 'canary')
      const metrics = await request(`${gw.adminUrl}/metrics`, { headers: auth })
      assert.match(metrics.text(), /hitless_rollout_events_total\{event="started"\} 1/)
      assert.match(metrics.text(), /hitless_rollout_events_total\{event="rolled_back"\} 1/)
      assert.match(metrics.text(), /hitless_rollout_active 0/)
      const line = gw.logs.find((l) => l.msg?.startsWith('roll-out rolled back'))
      assert.ok(line)
      assert.equal((line['canary'] as { requests: number }).requests, 60)
      assert.equal((line['stable'] as { error_rate: number }).error_rate, 0)
    } finally {
      await load.stop()
      await gw.close()
    }
  })

  test('a healthy canary is promoted when the window ends and then serves everything', async () => {
    const gw = await start()
    const load = timedLoad(gw.url)
    try {
      const stableVersion = gw.gateway.configVersion
      const rollout = { canary_percent: 30, window: '800ms', max_error_rate: 0.01 }
      const result = await gw.gateway.reload(doc(healthy, rollout))
      assert.equal(result.outcome, 'canary')
      const running = await rolloutOf(gw)
      assert.equal(running.state, 'running')
      assert.equal(running.stable.version, stableVersion)
      assert.equal(running.canary_percent, 30)
      await waitFor(() => running.canary.version === gw.gateway.configVersion, {
        timeoutMs: 10_000,
        message: 'promoted',
      })
      const promotedAt = load.answers.length
      await waitFor(() => load.answers.length > promotedAt + 200, { message: 'more load' })
      await load.stop()
      const during = load.answers.slice(0, promotedAt)
      assert.ok(
        during.some((a) => a.answer === '200 canary'),
        'the canary served a share',
      )
      assert.ok(
        during.some((a) => a.answer === '200 stable'),
        'the stable version served too',
      )
      const late = load.answers.slice(promotedAt + 4).filter((a) => a.answer !== '200 canary')
      assert.deepEqual(late, [])
      const view = await rolloutOf(gw)
      assert.equal(view.last.outcome, 'promoted')
      assert.equal(view.last.reason, 'the window ended clean')
      assert.equal(gw.gateway.reloads.history[0]?.outcome, 'promoted')
      assert.equal(gw.gateway.reloads.current?.version, running.canary.version)
    } finally {
      await load.stop()
      await gw.close()
    }
  })

  test('a request that started before the roll-out is not counted in it', async () => {
    let release: (() => void) | null = null
    let calls = 0
    const slow = await startFakeUpstream({
      // The first request waits to be released; the others are answered at once.
      handler: (_req, res) => {
        const answer = (): void => {
          res.writeHead(503)
          res.end('late')
        }
        if (++calls === 1) release = answer
        else answer()
      },
    })
    const gw = await startGateway(doc(slow), { env: { ADMIN_TOKEN: TOKEN } })
    try {
      const pending = get(gw.url, false)
      await waitFor(() => release !== null, { message: 'the slow request reached the origin' })
      const rollout = { canary_percent: 0, window: '60s', max_error_rate: 0.5 }
      assert.equal((await gw.gateway.reload(doc(healthy, rollout))).outcome, 'canary')
      ;(release as (() => void) | null)?.()
      assert.equal(await pending, 'status 503')
      assert.equal(await get(gw.url, false), 'status 503')
      const view = await rolloutOf(gw)
      // Only the request that started during the roll-out is counted.
      assert.equal(view.stable.requests, 1)
    } finally {
      await gw.close()
      await slow.close()
    }
  })

  test('an upstream both versions have is shared: one pool, one health state', async () => {
    const connectionsBefore = stable.connections
    const gw = await start()
    try {
      assert.equal(gw.gateway.upstreamPoolCount, 1)
      const same = doc(stable, { canary_percent: 50, window: '60s', max_error_rate: 0.5 })
      const routes = [
        {
          name: 'all',
          match: { prefix: '/' },
          upstream: 'app',
          headers: { response: { set: { 'x-version': 'canary' } } },
        },
      ]
      assert.equal((await gw.gateway.reload({ ...same, routes })).outcome, 'canary')
      assert.equal(gw.gateway.upstreamPoolCount, 1, 'no second pool for the canary')
      const answers = new Set<string>()
      for (let i = 0; i < 40; i++) {
        const reply = await request(gw.url)
        answers.add(String(reply.headers['x-version'] ?? 'stable'))
      }
      assert.deepEqual([...answers].sort(), ['canary', 'stable'], 'both versions served')
      assert.equal(
        stable.connections - connectionsBefore,
        1,
        'one keep-alive connection to the origin, shared by both versions',
      )
    } finally {
      await gw.close()
    }
  })

  test('sticky assignment keeps each client on one version for the whole window', async () => {
    const gw = await start()
    try {
      const rollout = {
        canary_percent: 50,
        window: '30s',
        max_error_rate: 0.5,
        sticky: 'header:x-user',
      }
      assert.equal((await gw.gateway.reload(doc(healthy, rollout))).outcome, 'canary')
      const agent = new http.Agent({ keepAlive: true })
      const seen = new Map<string, Set<string>>()
      for (let round = 0; round < 5; round++) {
        await Promise.all(
          Array.from({ length: 40 }, async (_, i) => {
            const user = `user-${i}`
            const answer = await new Promise<string>((resolve, reject) => {
              http
                .get(gw.url, { agent, headers: { 'x-user': user } }, (res) => {
                  let body = ''
                  res.setEncoding('utf8')
                  res.on('data', (d: string) => (body += d))
                  res.on('end', () => resolve(body))
                })
                .on('error', reject)
            })
            const versions = seen.get(user) ?? new Set()
            versions.add(answer)
            seen.set(user, versions)
          }),
        )
      }
      agent.destroy()
      for (const [user, versions] of seen)
        assert.equal(versions.size, 1, `${user}: ${[...versions].join(', ')}`)
      const onCanary = [...seen.values()].filter((v) => v.has('canary')).length
      assert.ok(onCanary > 8 && onCanary < 32, `${onCanary} of 40 users on the canary`)
      const view = await rolloutOf(gw)
      assert.equal(view.sticky, 'header:x-user')
      assert.equal(view.canary.requests + view.stable.requests, 200)
    } finally {
      await gw.close()
    }
  })

  test('promote and abort by hand on the admin API', async () => {
    const gw = await start()
    try {
      const admin = `${gw.adminUrl}`
      const rollout = { canary_percent: 50, window: '60s', max_error_rate: 0.5 }
      const noneYet = await request(`${admin}/rollout/promote`, { method: 'POST', headers: auth })
      assert.equal(noneYet.status, 409)
      assert.equal((await request(`${admin}/rollout`)).status, 401)

      // Abort: the stable version serves everything again.
      const canaryDoc = JSON.stringify(doc(healthy, rollout))
      const started = await request(`${admin}/reload`, {
        method: 'POST',
        headers: auth,
        body: canaryDoc,
      })
      assert.equal(started.status, 200)
      const canaryVersion = started.json().version
      assert.equal(started.json().outcome, 'canary')
      const aborted = await request(`${admin}/rollout/abort`, { method: 'POST', headers: auth })
      assert.equal(aborted.status, 200)
      assert.equal(aborted.json().outcome, 'aborted')
      for (let i = 0; i < 20; i++) assert.equal(await get(gw.url, false), 'stable')

      // The aborted canary is not "rolled back": the same document may start again.
      const again = await request(`${admin}/reload`, {
        method: 'POST',
        headers: auth,
        body: canaryDoc,
      })
      assert.equal(again.json().outcome, 'canary')
      const promoted = await request(`${admin}/rollout/promote`, { method: 'POST', headers: auth })
      assert.equal(promoted.status, 200)
      assert.equal(promoted.json().outcome, 'promoted')
      assert.equal(gw.gateway.configVersion, canaryVersion)
      for (let i = 0; i < 20; i++) assert.equal(await get(gw.url, false), 'canary')
      // The promoted document (which carries its rollout block) again: unchanged, no canary.
      const same = await request(`${admin}/reload`, {
        method: 'POST',
        headers: auth,
        body: canaryDoc,
      })
      assert.equal(same.json().outcome, 'unchanged')
      assert.equal(gw.gateway.rolloutView().state, 'none')
      const outcomes = gw.gateway.reloads.history.slice(0, 4).map((h) => h.outcome)
      assert.deepEqual(outcomes, ['promoted', 'canary', 'aborted', 'canary'])
      const config = (await request(`${admin}/config`, { headers: auth })).json()
      assert.equal(config.version, canaryVersion)
    } finally {
      await gw.close()
    }
  })

  test('a WebSocket opened on the canary keeps working after its promotion', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await onceWithin(wss, 'listening')
    wss.on('connection', (ws) =>
      ws.on('message', (data: Buffer) => ws.send(`canary:${data.toString('utf8')}`)),
    )
    const wsOrigin = { url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}` }
    const gw = await start()
    const clients: WebSocket[] = []
    try {
      const rollout = { canary_percent: 100, window: '60s', max_error_rate: 0.5 }
      const result = await gw.gateway.reload(doc(wsOrigin as FakeUpstream, rollout))
      assert.equal(result.outcome, 'canary')
      const ws = new WebSocket(gw.url.replace('http', 'ws') + '/socket')
      clients.push(ws)
      await onceWithin(ws, 'open')
      ws.send('one')
      assert.equal(await nextText(ws), 'canary:one')
      assert.ok(gw.gateway.promoteRollout())
      ws.send('two')
      assert.equal(await nextText(ws), 'canary:two')
      // A promotion retires the stable snapshot; the canary's tunnel is not touched.
      assert.equal(gw.gateway.snapshot?.version, result.version)
      ws.send('three')
      assert.equal(await nextText(ws), 'canary:three')
    } finally {
      for (const c of clients) c.terminate()
      await gw.close()
      await new Promise<void>((r) => wss.close(() => r()))
    }
  })

  test('a roll-out cannot change listeners; a new document replaces the canary; the stable one again aborts it', async () => {
    const gw = await start()
    try {
      const rollout = { canary_percent: 50, window: '60s', max_error_rate: 0.5 }
      const moved = doc(healthy, rollout, {
        listeners: [
          { name: 'public', address: '127.0.0.1:0' },
          { name: 'more', address: '127.0.0.1:0' },
        ],
      })
      const refused = await gw.gateway.reload(moved)
      assert.equal(refused.outcome, 'rejected')
      assert.match(JSON.stringify(refused), /cannot change listeners/)
      const first = await gw.gateway.reload(doc(healthy, rollout))
      const second = await gw.gateway.reload(doc(failing, { ...rollout, min_requests: 1000 }))
      assert.equal(first.outcome, 'canary')
      assert.equal(second.outcome, 'canary')
      assert.equal(gw.gateway.rolloutView().state, 'running')
      assert.equal(gw.gateway.reloads.history[1]?.outcome, 'superseded')
      assert.equal(gw.gateway.snapshot?.version, gw.gateway.configVersion)
      const stableAgain = await gw.gateway.reload(doc(stable))
      assert.equal(stableAgain.outcome, 'unchanged')
      assert.equal(gw.gateway.rolloutView().state, 'none')
      assert.equal(gw.gateway.reloads.history[0]?.outcome, 'aborted')
      // A document without a rollout block during a roll-out serves everything at once.
      await gw.gateway.reload(doc(healthy, rollout))
      const direct = await gw.gateway.reload(doc(healthy))
      assert.equal(direct.outcome, 'applied')
      assert.equal(gw.gateway.rolloutView().state, 'none')
      assert.deepEqual(
        gw.gateway.reloads.history.slice(0, 2).map((h) => h.outcome),
        ['applied', 'superseded'],
      )
      for (let i = 0; i < 10; i++) assert.equal(await get(gw.url, false), 'canary')
    } finally {
      await gw.close()
    }
  })

  test('after a rollback the file watcher does not apply the canary again until the file changes', async () => {
    const gw = await startFileGateway(doc(stable), { env: { ADMIN_TOKEN: TOKEN } })
    try {
      const rollout = { canary_percent: 100, window: '60s', max_error_rate: 0.1, min_requests: 5 }
      await gw.write(doc(failing, rollout))
      await waitFor(() => gw.gateway.rolloutView().state === 'running', { message: 'canary' })
      for (let i = 0; i < 5; i++) assert.equal(await get(gw.url, false), 'status 500')
      assert.equal(gw.gateway.rolloutView().state, 'none')
      for (let i = 0; i < 5; i++) assert.equal(await get(gw.url, false), 'stable')
      const entries = gw.gateway.reloads.history.length
      // The same text written again, and an explicit re-read: not applied.
      await gw.write(doc(failing, rollout))
      const reread = await gw.gateway.reload()
      assert.equal(reread.outcome, 'rejected')
      assert.match(JSON.stringify(reread), /was rolled back as a failing canary/)
      assert.equal(gw.gateway.reloads.history.length, entries + 1)
      assert.equal(gw.gateway.rolloutView().state, 'none')
      // A changed file starts a canary again.
      await gw.write(doc(healthy, rollout))
      await waitFor(() => gw.gateway.rolloutView().state === 'running', { message: 'new canary' })
      assert.equal(await get(gw.url, false), 'canary')
    } finally {
      await gw.close()
    }
  })
})
