// Clients of the hot-reload benchmark: a poller that tells when a new config version becomes
// visible, and a light constant load that counts every failed request.
import { Client, Pool } from 'undici'

/**
 * Time from `trigger()` to the first response carrying `expected`: one keep-alive connection
 * polls `path` back to back (each request sent when the previous answer has arrived), bounded
 * by timeoutMs. The poll starts before the trigger, so the first response after the swap is
 * seen within one request's round trip. Resolves to { visibleMs | null, polls, stale, status }:
 * `stale` counts old answers after the first new one (must be 0: new requests get the new
 * snapshot), `status` the non-200 answers.
 */
export async function measureVisible({ client, path, read, expected, trigger, timeoutMs }) {
  let t0 = null
  let seenAt = null
  let polls = 0
  let stale = 0
  let status = 0
  let extra = 0
  let started
  const firstPoll = new Promise((resolve) => (started = resolve))
  const polling = (async () => {
    const deadline = performance.now() + timeoutMs
    // After the first new answer, a few more: an old one among them would be a stale snapshot.
    while (extra < 5 && performance.now() < deadline) {
      const res = await client.request({ method: 'GET', path })
      const body = await res.body.text()
      polls++
      started()
      if (res.statusCode !== 200) status++
      const seen = read(res, body) === expected
      if (seenAt !== null) {
        extra++
        if (!seen) stale++
      } else if (seen && t0 !== null) {
        seenAt = performance.now()
      }
    }
  })()
  await firstPoll
  t0 = performance.now()
  const triggerResult = await trigger()
  await polling
  return { visibleMs: seenAt === null ? null : seenAt - t0, polls, stale, status, triggerResult }
}

/** One keep-alive connection for the poller. */
export function pollClient(url) {
  return new Client(url, { pipelining: 1, keepAliveTimeout: 60_000 })
}

/**
 * A light constant load: `rate` requests per second spread over `paths` (round robin), on
 * `connections` keep-alive connections. Every answer but a 200, and every error, is a failure.
 * `stop()` waits for the requests in flight (bounded) and resolves to the counts, the failures
 * by kind and the latency percentiles.
 */
export function startLoad({ url, paths, rate, connections = 4 }) {
  const pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000 })
  const t0 = performance.now()
  const totals = { sent: 0, ok: 0, failed: 0, failures: {}, latenciesMs: [], slow: [] }
  let inFlight = 0
  const settle = (start, failure, path) => {
    inFlight--
    const ms = performance.now() - start
    totals.latenciesMs.push(ms)
    // The slowest requests, with when they started (ms since the load began), for the raw JSON.
    if (ms > 100 && totals.slow.length < 100) totals.slow.push({ atMs: start - t0, ms, path })
    if (failure === null) {
      totals.ok++
    } else {
      totals.failed++
      totals.failures[failure] = (totals.failures[failure] ?? 0) + 1
    }
  }
  const send = () => {
    const path = paths[totals.sent % paths.length]
    totals.sent++
    inFlight++
    const start = performance.now()
    pool.request({ method: 'GET', path }).then(
      async (res) => {
        await res.body.dump()
        settle(start, res.statusCode === 200 ? null : `status ${res.statusCode} ${path}`, path)
      },
      (err) => settle(start, `${err.code ?? err.name}: ${err.message}`, path),
    )
  }
  // Sends whatever is due at `rate`, every 5 ms: a constant rate that does not slow down when
  // the gateway does (requests queue instead, and their latency shows it).
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) * rate) / 1000)
    while (totals.sent < due) send()
  }, 5)
  return {
    async stop() {
      clearInterval(timer)
      const deadline = performance.now() + 15_000
      while (inFlight > 0 && performance.now() < deadline) await sleep(10)
      await pool.close().catch(() => {})
      const lat = totals.latenciesMs.sort((a, b) => a - b)
      return {
        sent: totals.sent,
        ok: totals.ok,
        failed: totals.failed,
        unanswered: inFlight,
        failures: totals.failures,
        startedAt: t0,
        seconds: (performance.now() - t0) / 1000,
        p50Ms: percentile(lat, 50),
        p99Ms: percentile(lat, 99),
        maxMs: lat.length ? lat[lat.length - 1] : null,
        slow: totals.slow,
      }
    },
  }
}

/** Nearest-rank percentile of sorted values (p99 of 100 values is the 99th). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
