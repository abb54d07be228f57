/**
 * THE guarantee (SPEC §4, last line; issue 3 point 6): zero failed or reset requests across any
 * number of reloads. The real CLI runs as a child process (so SIGHUP is a real signal) on a
 * config file that the test rewrites about 115 times, mixing every trigger: an in-place write or
 * a save-by-rename seen by the watcher, a write followed by SIGHUP, and admin `POST /reload`
 * (re-reading the file, or carrying the document in its body). About every tenth document is
 * invalid and must be rejected whole while the previous version keeps serving.
 *
 * Meanwhile keep-alive and fresh-connection clients hammer a route whose upstream alternates
 * between two origins answering `v1` and `v2` (with 0–20 ms of jitter, so requests span swaps).
 * Every document also sets a distinct `x-config` response header, so each answer names the exact
 * version that served it; the `config applied` log lines give the moment of every swap. Checked:
 * no error, no reset, no non-2xx, and every answer comes from a version that was live at some
 * moment while that request was in flight. A WebSocket and an SSE stream opened before the first
 * reload survive them all.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rename, writeFile } from 'node:fs/promises'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { loadConfig } from '../../src/config/load.ts'
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts'
import { request } from '../helpers/http-client.ts'
import { createSeededRandom } from '../helpers/seeded-random.ts'
import { spawnGateway, type SpawnedGateway } from '../helpers/spawn-gateway.ts'
import { onceWithin, waitFor } from '../helpers/wait-for.ts'

/** Reload attempts; every tenth (5, 15, …) carries an invalid document: 12 invalid, 103 valid. */
const STEPS = 115
/** Pause between the starts of two reload attempts, drawn in [MIN, MIN + SPREAD) ms. */
const PACE_MIN_MS = 50
const PACE_SPREAD_MS = 30
/** Load: back-to-back requests on a shared keep-alive agent, and on a new connection each. */
const KEEPALIVE_LOOPS = 4
const FRESH_LOOPS = 2
/** Upper bound per load loop, so a runaway loop still ends. */
const MAX_REQUESTS_PER_LOOP = 20_000
/**
 * Slack when comparing a request's client-side times with the swap times from the child's log.
 * Both are `Date.now()` on the same machine's clock, and the order is guaranteed by causality:
 * the child logs `config applied` in the same synchronous block as the swap, so a request served
 * by the new version cannot end before that timestamp, and a request served by the old one was
 * dispatched before the swap, so it started before the next version's timestamp. The only gap
 * left is truncation of both clocks to whole milliseconds (≤ 1 ms each side); 2 ms covers it and
 * stays far below the ~50–200 ms between two swaps, so a stale snapshot would still be caught.
 */
const EPSILON_MS = 2
/** A request that takes longer than this is a hang, recorded as a failure. */
const REQUEST_TIMEOUT_MS = 5000

type Origin = 'v1' | 'v2'
type Trigger = 'write' | 'rename' | 'sighup' | 'admin' | 'admin-body'

/** A valid document the driver applies: its tag (the `x-config` header), origin and version. */
interface ValidDoc {
  readonly tag: string
  readonly origin: Origin
  readonly text: string
  readonly version: string
}

interface Sample {
  readonly kind: 'keep-alive' | 'fresh'
  readonly start: number
  readonly end: number
  readonly status: number
  readonly body: string
  readonly tag: string | undefined
  readonly error: string | undefined
}

interface Origins {
  readonly v1: FakeUpstream
  readonly v2: FakeUpstream
  readonly events: FakeUpstream
  readonly echo: WebSocketServer
  readonly echoUrl: string
}

/** The document of the `n`-th valid version: route `main` forwards to `v1` (A) or `v2` (B). */
function validDocument(origins: Origins, n: number): { tag: string; origin: Origin; doc: object } {
  const origin: Origin = n % 2 === 0 ? 'v1' : 'v2'
  const tag = `${origin === 'v1' ? 'A' : 'B'}-${n}`
  const upstreams: Record<string, unknown> = {
    // Unchanged in every version: their pools, the SSE exchange and the tunnel are kept.
    events: { targets: [{ url: origins.events.url }] },
    echo: { targets: [{ url: origins.echoUrl }] },
  }
  // The live upstream; one version in three changes its pool settings (a new pool while the old
  // one still has requests) and one in two drops the idle upstream (its pool is released).
  upstreams[origin] = {
    targets: [{ url: origins[origin].url }],
    keepalive: { idle_timeout: n % 3 === 0 ? '20s' : '30s' },
  }
  if (n % 2 === 0) {
    const idle: Origin = origin === 'v1' ? 'v2' : 'v1'
    upstreams[idle] = { targets: [{ url: origins[idle].url }], keepalive: { idle_timeout: '30s' } }
  }
  return {
    tag,
    origin,
    doc: {
      listeners: [{ name: 'public', address: '127.0.0.1:0' }],
      admin: { address: '127.0.0.1:0' },
      upstreams,
      routes: [
        {
          name: 'main',
          match: { prefix: '/api' },
          upstream: origin,
          // No retry may hide a failure: every upstream error would surface as a 5xx.
          retries: { attempts: 0 },
          headers: { response: { set: { 'x-config': tag } } },
        },
        { name: 'events', match: { prefix: '/events' }, upstream: 'events' },
        { name: 'ws', match: { prefix: '/ws' }, upstream: 'echo' },
      ],
    },
  }
}

/** Three kinds of invalid document, each rejected by a different stage of the loader. */
function invalidDocument(origins: Origins, n: number, kind: number): string {
  const { doc } = validDocument(origins, n)
  const text = JSON.stringify(doc, null, 2)
  switch (kind % 3) {
    case 0: // semantic: the route names an upstream that does not exist
      return text
        .replace('"upstream": "v1"', '"upstream": "nowhere"')
        .replace('"upstream": "v2"', '"upstream": "nowhere"')
    case 1: // syntax: a truncated JSON document
      return text.slice(0, Math.floor(text.length / 2))
    default: // schema: a value out of range
      return text.replace('"attempts": 0', '"attempts": 99')
  }
}

function versionOf(text: string): string {
  return loadConfig(text, { source: 'guarantee.json', env: {} }).version
}

function isInvalid(text: string): boolean {
  try {
    versionOf(text)
    return false
  } catch {
    return true
  }
}

/** One GET with its client-side start and end times; never rejects. */
async function timedGet(url: string, agent: http.Agent | false): Promise<Omit<Sample, 'kind'>> {
  const start = Date.now()
  return new Promise((resolve) => {
    let settled = false
    const done = (status: number, body: string, tag: string | undefined, error?: string): void => {
      if (settled) return
      settled = true
      resolve({ start, end: Date.now(), status, body, tag, error })
    }
    const req = http.get(url, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('error', (err) => done(res.statusCode ?? 0, body, undefined, err.message))
      res.on('aborted', () => done(res.statusCode ?? 0, body, undefined, 'response aborted'))
      res.on('end', () => {
        const tag = res.headers['x-config']
        done(res.statusCode ?? 0, body, typeof tag === 'string' ? tag : undefined)
      })
    })
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('request timed out')))
    req.on('error', (err: Error & { code?: string }) =>
      done(0, '', undefined, `${err.code ?? ''} ${err.message}`),
    )
  })
}

async function adminJson<T>(url: string): Promise<T> {
  const res = await request(url, { timeoutMs: 3000 })
  assert.equal(res.status, 200, `${url}: ${res.text()}`)
  return res.json<T>()
}

function reloadCount(metrics: string, result: 'success' | 'failure'): number {
  const m = new RegExp(`^hitless_config_reloads_total\\{result="${result}"\\} (\\d+)`, 'm').exec(
    metrics,
  )
  return m === null ? 0 : Number(m[1])
}

test(
  'the guarantee: no failed request across 100+ mixed reloads; WS and SSE survive',
  { timeout: 60_000 },
  async (t) => {
    const testStart = Date.now()
    const random = createSeededRandom(0x6a11)
    // The origins answer after 0–20 ms half of the time, so that requests span swaps.
    const answer =
      (text: Origin) =>
      (_req: IncomingMessage, res: ServerResponse): void => {
        const send = (): void => {
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' })
          res.end(text)
        }
        if (random() < 0.5) send()
        else setTimeout(send, Math.floor(random() * 20))
      }
    const tickers = new Set<NodeJS.Timeout>()
    const echo = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    echo.on('connection', (ws) =>
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })),
    )
    await onceWithin(echo, 'listening')
    const origins: Origins = {
      v1: await startFakeUpstream({ handler: answer('v1') }),
      v2: await startFakeUpstream({ handler: answer('v2') }),
      // SSE: one event every 50 ms, numbered, until the client goes away.
      events: await startFakeUpstream({
        streaming: true,
        handler: (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
          let id = 0
          const ticker = setInterval(() => res.write(`id: ${++id}\ndata: tick ${id}\n\n`), 50)
          tickers.add(ticker)
          res.on('close', () => {
            clearInterval(ticker)
            tickers.delete(ticker)
          })
        },
      }),
      echo,
      echoUrl: `http://127.0.0.1:${(echo.address() as AddressInfo).port}`,
    }

    // Every document the driver will use, with the version the gateway must compute for it.
    const byTag = new Map<string, ValidDoc>()
    const addValid = (n: number): ValidDoc => {
      const { tag, origin, doc } = validDocument(origins, n)
      const text = JSON.stringify(doc, null, 2)
      const valid = { tag, origin, text, version: versionOf(text) }
      byTag.set(tag, valid)
      return valid
    }
    const first = addValid(0)

    let gw: SpawnedGateway | undefined
    let sseReq: http.ClientRequest | undefined
    let ws: WebSocket | undefined
    const keepAliveAgent = new http.Agent({ keepAlive: true, maxSockets: KEEPALIVE_LOOPS })
    let stopLoad = false
    let loops: Promise<void>[] = []
    try {
      gw = await spawnGateway(JSON.parse(first.text) as Record<string, unknown>)
      const g = gw
      assert.ok(g.adminUrl !== null, 'the admin listener is announced')
      const admin = g.adminUrl
      const logs = (msg: string): Record<string, unknown>[] =>
        g.logs.filter((l) => typeof l['msg'] === 'string' && l['msg'].startsWith(msg))

      // --- Long-lived streams, opened before the first reload.
      const sse = { ids: [] as number[], at: [] as number[], cut: null as string | null }
      sseReq = http.get(`${g.url}/events`, { agent: false }, (res) => {
        if (res.statusCode !== 200) sse.cut = `status ${res.statusCode ?? 0}`
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          text += d
          let sep: number
          while ((sep = text.indexOf('\n\n')) !== -1) {
            const id = /^id: (\d+)$/m.exec(text.slice(0, sep))
            sse.ids.push(Number(id?.[1] ?? -1))
            sse.at.push(Date.now())
            text = text.slice(sep + 2)
          }
        })
        res.on('end', () => (sse.cut ??= 'stream ended'))
        res.on('error', (err) => (sse.cut ??= `response error: ${err.message}`))
      })
      sseReq.setTimeout(REQUEST_TIMEOUT_MS, () => sseReq?.destroy(new Error('SSE stalled')))
      sseReq.on('error', (err) => (sse.cut ??= `request error: ${err.message}`))
      await waitFor(() => sse.ids.length >= 2, { message: 'SSE events flow', timeoutMs: 3000 })

      const socket = new WebSocket(`ws://127.0.0.1:${g.port}/ws/echo`)
      ws = socket
      let wsClosed: string | null = null
      socket.on('close', (code) => (wsClosed ??= `closed with ${code}`))
      socket.on('error', (err) => (wsClosed ??= `error: ${err.message}`))
      await onceWithin(socket, 'open', 3000)
      const echoOf = async (text: string): Promise<string> => {
        const reply = onceWithin<[Buffer]>(socket, 'message', 3000)
        socket.send(text)
        return (await reply)[0].toString()
      }
      assert.equal(await echoOf('before the reloads'), 'before the reloads')

      // --- Load, for the whole duration of the reloads.
      const samples: Sample[] = []
      let inFlight = 0
      let maxInFlight = 0
      const loop = async (kind: Sample['kind'], id: number): Promise<void> => {
        for (let i = 0; i < MAX_REQUESTS_PER_LOOP && !stopLoad; i++) {
          inFlight++
          maxInFlight = Math.max(maxInFlight, inFlight)
          const agent = kind === 'keep-alive' ? keepAliveAgent : false
          const sample = await timedGet(`${g.url}/api/${kind}/${id}?i=${i}`, agent)
          inFlight--
          samples.push({ kind, ...sample })
        }
      }
      loops = [
        ...Array.from({ length: KEEPALIVE_LOOPS }, (_, i) => loop('keep-alive', i)),
        ...Array.from({ length: FRESH_LOOPS }, (_, i) => loop('fresh', i)),
      ]

      // --- The reload driver.
      const triggers: Trigger[] = ['write', 'sighup', 'admin', 'rename', 'sighup', 'admin-body']
      const invalidTriggers: Trigger[] = ['write', 'sighup', 'admin-body', 'rename', 'admin']
      /** Per trigger: attempts and total ms from the first write to the outcome being seen. */
      const used: Record<string, { n: number; ms: number }> = {}
      let validCount = 0
      let invalidCount = 0
      let lastValid = first
      const write = async (text: string, how: 'in-place' | 'rename'): Promise<void> => {
        if (how === 'in-place') return writeFile(g.configPath, text)
        const tmp = `${g.configPath}.${validCount}-${invalidCount}.tmp`
        await writeFile(tmp, text)
        await rename(tmp, g.configPath)
      }
      const postReload = async (body?: string): Promise<{ status: number; json: unknown }> => {
        const res = await request(`${admin}/reload`, {
          method: 'POST',
          ...(body === undefined ? {} : { body }),
          timeoutMs: 3000,
        })
        return { status: res.status, json: res.json() }
      }
      const currentVersion = async (): Promise<string> =>
        (await adminJson<{ version: string }>(`${admin}/config`)).version
      const failures = async (): Promise<number> =>
        reloadCount((await request(`${admin}/metrics`, { timeoutMs: 3000 })).text(), 'failure')
      const reloadsStart = Date.now()

      for (let step = 1; step <= STEPS; step++) {
        const stepStart = Date.now()
        let label: string
        if (step % 10 === 5) {
          const trigger = invalidTriggers[invalidCount % invalidTriggers.length]!
          const text = invalidDocument(origins, validCount + 1, invalidCount)
          assert.ok(isInvalid(text), `document ${step} is really invalid`)
          invalidCount++
          label = `invalid ${trigger}`
          const failuresBefore = await failures()
          if (trigger === 'admin-body') {
            // The file keeps the running document: only the body is bad.
            const res = await postReload(text)
            assert.equal(res.status, 422, JSON.stringify(res.json))
          } else {
            await write(text, trigger === 'rename' ? 'rename' : 'in-place')
            if (trigger === 'sighup') process.kill(g.pid, 'SIGHUP')
            if (trigger === 'admin') {
              const res = await postReload()
              assert.equal(res.status, 422, JSON.stringify(res.json))
            }
          }
          await waitFor(async () => (await failures()) > failuresBefore, {
            message: `invalid document ${step} (${trigger}) rejected`,
            timeoutMs: 3000,
            intervalMs: 10,
          })
          // The previous version keeps serving.
          assert.equal(await currentVersion(), lastValid.version)
        } else {
          const trigger = triggers[validCount % triggers.length]!
          validCount++
          label = trigger
          const next = addValid(validCount)
          await write(next.text, trigger === 'rename' ? 'rename' : 'in-place')
          if (trigger === 'sighup') process.kill(g.pid, 'SIGHUP')
          if (trigger === 'admin' || trigger === 'admin-body') {
            const res = await postReload(trigger === 'admin-body' ? next.text : undefined)
            assert.equal(res.status, 200, JSON.stringify(res.json))
            // `unchanged` only if the watcher got there first (it sees the same write).
            assert.equal((res.json as { version: string }).version, next.version)
          }
          await waitFor(async () => (await currentVersion()) === next.version, {
            message: `document ${step} (${trigger}) applied`,
            timeoutMs: 3000,
            intervalMs: 5,
          })
          lastValid = next
        }
        const tally = (used[label] ??= { n: 0, ms: 0 })
        tally.n++
        tally.ms += Date.now() - stepStart
        // Pacing (not synchronisation): the next attempt starts 50–80 ms after this one did.
        const pause = stepStart + PACE_MIN_MS + Math.floor(random() * PACE_SPREAD_MS) - Date.now()
        if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause))
      }
      const reloadsEnd = Date.now()

      // --- After the last reload: wait for its log line (batched up to 100 ms), then for three
      // more SSE events, and check the WebSocket still echoes.
      await waitFor(
        () => logs('config applied').some((l) => l['config_version'] === lastValid.version),
        { message: 'the last config applied line is logged', timeoutMs: 3000 },
      )
      const lastSwap = Number(
        logs('config applied').find((l) => l['config_version'] === lastValid.version)?.['time'],
      )
      await waitFor(() => sse.at.filter((at) => at > lastSwap).length >= 3, {
        message: 'SSE events keep coming after the last reload',
        timeoutMs: 3000,
      })
      assert.equal(await echoOf('after the reloads'), 'after the reloads')
      stopLoad = true
      await Promise.all(loops)

      // --- Counts: the log, the metrics and the history agree.
      const metrics = (await request(`${admin}/metrics`, { timeoutMs: 3000 })).text()
      const successMetric = reloadCount(metrics, 'success')
      const failureMetric = reloadCount(metrics, 'failure')
      await waitFor(
        () =>
          logs('config applied').length === successMetric &&
          logs('config rejected').length === failureMetric,
        { message: 'every reload outcome is logged', timeoutMs: 3000 },
      )
      const applied = logs('config applied')
        .map((l) => ({ time: Number(l['time']), version: String(l['config_version']) }))
        .sort((a, b) => a.time - b.time)
      const rejected = logs('config rejected').length
      const history = await adminJson<{ history: { version: string; outcome: string }[] }>(
        `${admin}/config/history`,
      )

      // Timeline: each version is live from its `config applied` time to the next one's.
      const live = new Map<string, { from: number; to: number }[]>()
      applied.forEach((a, i) => {
        const to = applied[i + 1]?.time ?? Number.POSITIVE_INFINITY
        live.set(a.version, [...(live.get(a.version) ?? []), { from: a.time, to }])
      })

      const problems: string[] = []
      let spanning = 0
      let servedByOutgoing = 0
      for (const s of samples) {
        const what = `${s.kind} request [${s.start - testStart}, ${s.end - testStart}] ms`
        if (s.error !== undefined) {
          problems.push(`${what}: ${s.error}`)
          continue
        }
        if (s.status < 200 || s.status > 299) {
          problems.push(`${what}: status ${s.status} ${s.body.slice(0, 200)}`)
          continue
        }
        const doc = s.tag === undefined ? undefined : byTag.get(s.tag)
        if (doc === undefined) {
          problems.push(`${what}: unknown x-config ${String(s.tag)}`)
          continue
        }
        if (s.body !== doc.origin) {
          problems.push(`${what}: ${doc.tag} must answer ${doc.origin}, got ${s.body}`)
          continue
        }
        const periods = live.get(doc.version) ?? []
        const match = periods.find(
          (p) => p.from <= s.end + EPSILON_MS && p.to >= s.start - EPSILON_MS,
        )
        if (match === undefined) {
          const when = periods.map((p) => `[${p.from - testStart}, ${p.to - testStart}]`)
          problems.push(`${what}: served by ${doc.tag}, live only at ${when.join(' ') || 'never'}`)
          continue
        }
        if (match.to <= s.end) servedByOutgoing++
        if (applied.some((a) => a.time > s.start && a.time < s.end)) spanning++
      }

      const keepAliveCount = samples.filter((s) => s.kind === 'keep-alive').length
      const sseAfter = sse.at.filter((at) => at > lastSwap).length
      t.diagnostic(
        `requests: ${samples.length} (${keepAliveCount} keep-alive, ` +
          `${samples.length - keepAliveCount} fresh), max in flight ${maxInFlight}, ` +
          `${spanning} spanning a swap, ${servedByOutgoing} served by a version swapped out meanwhile`,
      )
      t.diagnostic(
        `reloads: ${applied.length - 1} applied, ${rejected} rejected (${invalidCount} invalid ` +
          `documents) in ${reloadsEnd - reloadsStart} ms; metrics success ${successMetric}, ` +
          `failure ${failureMetric}`,
      )
      t.diagnostic(
        `triggers (attempts × mean ms to outcome): ${Object.entries(used)
          .map(([k, v]) => `${k} ${v.n}×${Math.round(v.ms / v.n)}`)
          .join(', ')}`,
      )
      t.diagnostic(
        `SSE: ${sse.ids.length} events, ${sseAfter} after the last reload; WebSocket echoed; ` +
          `total ${Date.now() - testStart} ms`,
      )

      assert.deepEqual(problems.slice(0, 20), [], `${problems.length} bad requests`)
      assert.ok(samples.length >= 500, `enough load: ${samples.length} requests`)
      assert.ok(spanning > 0, 'some requests were in flight across a swap')
      // Each valid document is applied exactly once (plus the start); the invalid ones are
      // rejected at least once each (a SIGHUP's rejection may be followed by the watcher's).
      assert.equal(applied.length, validCount + 1)
      assert.ok(validCount >= 100, `${validCount} valid reloads`)
      assert.equal(successMetric, applied.length)
      assert.ok(invalidCount >= 5)
      assert.ok(rejected >= invalidCount && rejected <= 2 * invalidCount, `${rejected} rejected`)
      assert.equal(failureMetric, rejected)
      // The history (last 20 attempts) shows the running version as the newest applied one.
      assert.equal(history.history.length, 20)
      const newestApplied = history.history.find((h) => h.outcome === 'applied')
      assert.equal(newestApplied?.version, lastValid.version)
      assert.equal(new Set(applied.map((a) => a.version)).size, applied.length)
      // The streams were never cut: every SSE event arrived, in order, with no gap.
      assert.equal(sse.cut, null, 'the SSE stream was not cut')
      assert.deepEqual(
        sse.ids,
        sse.ids.map((_, i) => i + 1),
        'SSE events are consecutive',
      )
      assert.equal(wsClosed, null, 'the WebSocket was not closed')
    } finally {
      stopLoad = true
      await Promise.all(loops)
      keepAliveAgent.destroy()
      sseReq?.destroy()
      ws?.terminate()
      await gw?.close()
      for (const ticker of tickers) clearInterval(ticker)
      await origins.v1.close()
      await origins.v2.close()
      await origins.events.close()
      for (const c of echo.clients) c.terminate()
      await new Promise<void>((resolve) => echo.close(() => resolve()))
    }
  },
)
