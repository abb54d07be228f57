/**
 * Child process of test/integration/reload-leak.test.ts, run as `node --expose-gc` (node:test
 * itself runs without it). It starts an in-process gateway, takes a `WeakRef` to the running
 * snapshot, pins it with a slow request, reloads to a config without that request's upstream,
 * and reports on its last stdout line, as JSON, what it saw: whether the old snapshot survived
 * garbage collection while the request was in flight and after it finished, and the number of
 * upstream pools at each step. With `LEAK_CONTROL=1` it keeps a strong reference to the old
 * snapshot itself, as a holder that remembered retired snapshots would: the negative control
 * that shows the probe can see a leak.
 */
import http, { type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createGateway, type Gateway } from '../../src/gateway.ts'

/** What the child reports; the test asserts on it. */
export interface LeakReport {
  readonly applied: boolean
  readonly swapped: boolean
  readonly poolsBefore: number
  readonly poolsInFlight: number
  readonly aliveInFlight: boolean
  readonly slowStatus: number
  readonly slowBody: string
  readonly poolsAfter: number
  readonly collected: boolean
  readonly gcRounds: number
}

const GC_ROUNDS = 10
const WAIT_MS = 5000

const gc = (globalThis as { gc?: () => void }).gc
const retained: unknown[] = []

interface Origin {
  readonly url: string
  /** Resolves when the slow request has reached the origin. */
  readonly slowArrived: Promise<void>
  /** Answers the slow request. */
  finishSlow(): void
  close(): Promise<void>
}

async function startOrigin(): Promise<Origin> {
  let held: ServerResponse | null = null
  let arrived: () => void = () => {}
  const slowArrived = new Promise<void>((resolve) => (arrived = resolve))
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') {
      held = res
      arrived()
    } else {
      res.end('ok')
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    slowArrived,
    finishSlow: () => held?.end('slow-done'),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** v1 routes /slow to its own upstream `leaving`; v2 drops that upstream (and its pool). */
function configs(originUrl: string): { v1: unknown; v2: unknown } {
  const listeners = [{ name: 'public', address: '127.0.0.1:0' }]
  const staying = { targets: [{ url: originUrl }] }
  const fast = { name: 'fast', match: { path: '/fast' }, upstream: 'staying' }
  return {
    v1: {
      listeners,
      upstreams: { staying, leaving: { targets: [{ url: originUrl }] } },
      routes: [fast, { name: 'slow', match: { path: '/slow' }, upstream: 'leaving' }],
    },
    v2: {
      listeners,
      upstreams: { staying },
      routes: [fast, { name: 'slow', match: { path: '/slow' }, respond: { status: 410 } }],
    },
  }
}

/**
 * One keep-alive connection for every request, left open (idle) while the probe collects: a
 * per-connection reference to the last request's snapshot would show up as a leak.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

/** A WeakRef made in its own frame, so no local of the caller holds the snapshot strongly. */
function weakRefToCurrent(gateway: Gateway): WeakRef<object> {
  const snapshot = gateway.snapshot
  if (snapshot === null) throw new Error('no snapshot after start')
  if (process.env['LEAK_CONTROL'] === '1') retained.push(snapshot)
  return new WeakRef(snapshot)
}

function isCurrent(gateway: Gateway, ref: WeakRef<object>): boolean {
  return gateway.snapshot === ref.deref()
}

/**
 * gc() with a macrotask turn in between: a WeakRef target read in a job stays alive until the
 * job ends, and some references are dropped only by callbacks (socket close, pool close).
 */
async function collect(ref: WeakRef<object>, rounds: number): Promise<number> {
  for (let round = 1; round <= rounds; round++) {
    gc?.()
    await new Promise(setImmediate)
    if (ref.deref() === undefined) return round
  }
  return 0
}

async function waitUntil(condition: () => boolean): Promise<boolean> {
  const deadline = Date.now() + WAIT_MS
  while (!condition()) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return true
}

async function probe(gateway: Gateway, origin: Origin, v2: unknown): Promise<LeakReport> {
  const url = gateway.addresses.listeners[0]?.address ?? ''
  await get(`http://${url}/fast`)
  const ref = weakRefToCurrent(gateway)
  const poolsBefore = gateway.upstreamPoolCount
  const slow = get(`http://${url}/slow`)
  await origin.slowArrived
  const result = await gateway.reload(v2)
  const swapped = !isCurrent(gateway, ref)
  const aliveInFlight = (await collect(ref, 3)) === 0
  const poolsInFlight = gateway.upstreamPoolCount
  origin.finishSlow()
  const done = await slow
  // The snapshot is released when the gateway's response has finished, a moment after the
  // client read its end.
  await waitUntil(() => gateway.upstreamPoolCount < poolsInFlight)
  const poolsAfter = gateway.upstreamPoolCount
  const gcRounds = await collect(ref, GC_ROUNDS)
  return {
    applied: result.outcome === 'applied',
    swapped,
    poolsBefore,
    poolsInFlight,
    aliveInFlight,
    slowStatus: done.status,
    slowBody: done.body,
    poolsAfter,
    collected: gcRounds > 0,
    gcRounds,
  }
}

async function main(): Promise<void> {
  if (gc === undefined) throw new Error('run with node --expose-gc')
  const origin = await startOrigin()
  const { v1, v2 } = configs(origin.url)
  const gateway = createGateway({ config: v1, env: {}, logLevel: 'silent' })
  await gateway.start()
  try {
    process.stdout.write(`${JSON.stringify(await probe(gateway, origin, v2))}\n`)
  } finally {
    agent.destroy()
    await gateway.close()
    await origin.close()
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  },
)
