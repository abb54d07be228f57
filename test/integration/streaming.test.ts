/**
 * Bodies stream both ways with back-pressure (SPEC §3 Forwarding): a gigabyte each way through
 * the real CLI in bounded memory, server-sent events flushed at once, bodyless responses
 * (HEAD, 204, 304) framed so the next pipelined response still parses, chunked responses
 * re-framed for the client and Content-Length responses passed through.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { Writable } from 'node:stream'
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts'
import { RawConnection } from '../helpers/raw-http.ts'
import { rssOf, sampleRss, spawnGateway, type SpawnedGateway } from '../helpers/spawn-gateway.ts'
import { startGateway, type TestGateway } from '../helpers/start-gateway.ts'
import { waitFor } from '../helpers/wait-for.ts'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
/** Allowed growth of the gateway's RSS while a gigabyte goes through (the task's budget). */
const RSS_BUDGET = 64 * MiB
/**
 * Bytes that may sit between a paused reader and a blocked writer: kernel socket buffers on
 * both hops (Linux autotunes a receive buffer up to tcp_rmem max, 32 MiB here) plus the
 * gateway's stream buffers. A proxy without back-pressure would let the whole gigabyte in.
 */
const IN_FLIGHT_BOUND = 128 * MiB
/** The reader pauses once this much went through, to check that the writer then stalls. */
const PAUSE_AT = 256 * MiB

/** Resolves on the next 'drain', rejects if the stream closes first. */
function drained(stream: Writable | ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      stream.removeListener('close', onClose)
      resolve()
    }
    const onClose = (): void => {
      stream.removeListener('drain', onDrain)
      reject(new Error('stream closed while waiting for drain'))
    }
    stream.once('drain', onDrain)
    stream.once('close', onClose)
  })
}

/** Progress of a generated stream: bytes handed to write() and whether it waits for drain. */
interface Progress {
  sent: number
  blocked: boolean
}

/** Writes `total` bytes of `chunk` repeated, honouring back-pressure; never one big buffer. */
async function generate(out: Writable, total: number, progress: Progress): Promise<void> {
  const chunk = Buffer.alloc(256 * 1024, 'x')
  while (progress.sent < total) {
    const n = Math.min(chunk.length, total - progress.sent)
    const ok = out.write(n === chunk.length ? chunk : chunk.subarray(0, n))
    progress.sent += n
    if (!ok) {
      progress.blocked = true
      await drained(out)
      progress.blocked = false
    }
  }
  out.end()
}

/**
 * Waits until the writer of `progress` stopped advancing (it is blocked on back-pressure or
 * done), polling: a stalled writer is the event, there is no callback for "nothing happens".
 */
async function writerStalled(progress: Progress): Promise<void> {
  let last = -1
  let stableFor = 0
  await waitFor(
    () => {
      stableFor = progress.sent === last ? stableFor + 1 : 0
      last = progress.sent
      return stableFor >= 3
    },
    { timeoutMs: 15_000, intervalMs: 100, message: 'writer stalled' },
  )
}

class Deferred<T = void> {
  resolve!: (v: T) => void
  readonly promise = new Promise<T>((r) => (this.resolve = r))
}

/** What a big transfer observed (sizes in bytes). */
interface Transfer {
  readonly bytes: number
  /** How far the writer ran ahead of the paused reader, or -1 when nobody paused. */
  readonly inFlightWhilePaused: number
}

describe('a gigabyte each way through the CLI in bounded memory', { timeout: 50_000 }, () => {
  let origin: FakeUpstream
  let gw: SpawnedGateway
  /** The origin's side of the current download (it writes) and upload (it reads). */
  let down: Progress = { sent: 0, blocked: false }
  let up = { received: 0, pauseAt: Infinity, paused: new Deferred<IncomingMessage>() }

  /** GET /down?bytes=N; with `pauseAt`, stops reading there until the origin stalls. */
  async function download(total: number, pauseAt: number | null): Promise<Transfer> {
    down = { sent: 0, blocked: false }
    return new Promise<Transfer>((resolve, reject) => {
      const req = http.get(`${gw.url}/down?bytes=${total}`, { agent: false }, (res) => {
        if (res.headers['content-length'] !== String(total)) {
          req.destroy()
          reject(new Error(`Content-Length not passed through: ${res.headers['content-length']}`))
          return
        }
        let received = 0
        let inFlight = -1
        res.on('data', (c: Buffer) => {
          received += c.length
          if (pauseAt === null || received < pauseAt || inFlight !== -1) return
          res.pause()
          inFlight = 0
          writerStalled(down)
            .then(() => {
              inFlight = down.sent - received
              res.resume()
            })
            .catch((err: unknown) => {
              req.destroy()
              reject(err instanceof Error ? err : new Error(String(err)))
            })
        })
        res.on('error', reject)
        res.on('end', () => resolve({ bytes: received, inFlightWhilePaused: inFlight }))
      })
      req.on('error', reject)
    })
  }

  /** POST /up with `total` generated bytes; with `pauseAt`, the origin stops reading there. */
  async function upload(total: number, pauseAt: number | null): Promise<Transfer> {
    up = { received: 0, pauseAt: pauseAt ?? Infinity, paused: new Deferred<IncomingMessage>() }
    const client: Progress = { sent: 0, blocked: false }
    const req = http.request(`${gw.url}/up`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(total) },
    })
    const reply = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on('error', reject)
    })
    const writing = generate(req, total, client)
    let inFlight = -1
    if (pauseAt !== null) {
      const originReq = await up.paused.promise
      await writerStalled(client)
      assert.equal(client.blocked, true, 'the client is held by back-pressure')
      inFlight = client.sent - up.received
      originReq.resume()
    }
    await writing
    const res = await reply
    assert.equal(res.status, 200)
    assert.equal(client.sent, total)
    return {
      bytes: (JSON.parse(res.body) as { bytes: number }).bytes,
      inFlightWhilePaused: inFlight,
    }
  }

  /** Runs `transfer` while sampling the gateway's RSS; returns its growth over the start value. */
  async function measured(
    transfer: () => Promise<Transfer>,
  ): Promise<Transfer & { growth: number }> {
    const baseline = await rssOf(gw.pid)
    const sampler = sampleRss(gw.pid)
    const started = performance.now()
    const result = await transfer()
    const growth = (await sampler.stop()) - baseline
    const seconds = (performance.now() - started) / 1000
    process.stderr.write(
      `# ${(result.bytes / MiB).toFixed(0)} MiB in ${seconds.toFixed(2)} s, RSS ${(baseline / MiB).toFixed(1)} MiB +${(growth / MiB).toFixed(1)} MiB, ${(result.inFlightWhilePaused / MiB).toFixed(1)} MiB in flight while paused\n`,
    )
    return { ...result, growth }
  }

  before(
    async () => {
      origin = await startFakeUpstream({
        streaming: true,
        handler: async (req, res) => {
          const url = new URL(req.url ?? '/', 'http://origin')
          if (url.pathname === '/down') {
            req.resume()
            const total = Number(url.searchParams.get('bytes'))
            res.writeHead(200, {
              'content-type': 'application/octet-stream',
              'content-length': String(total),
            })
            await generate(res, total, down)
          } else if (url.pathname === '/up') {
            const state = up
            req.on('data', (c: Buffer) => {
              state.received += c.length
              if (state.received >= state.pauseAt) {
                // A slow origin: stop reading until the test says so.
                state.pauseAt = Infinity
                req.pause()
                state.paused.resolve(req)
              }
            })
            req.on('end', () => {
              res.setHeader('content-type', 'application/json')
              res.end(JSON.stringify({ bytes: state.received }))
            })
          } else {
            req.resume()
            res.statusCode = 404
            res.end()
          }
        },
      })
      gw = await spawnGateway({
        defaults: { limits: { max_body_bytes: 2 * GiB } },
        upstreams: { origin: { targets: [{ url: origin.url }] } },
        routes: [{ name: 'all', match: { prefix: '/' }, upstream: 'origin' }],
      })
      // Warm-up through both paths, so that the baseline already includes what any streaming
      // costs once (JIT, pools, V8 heap and malloc arenas sized for the traffic): the budget
      // is about memory growing with the body, which a buffering proxy would do.
      assert.equal((await download(128 * MiB, null)).bytes, 128 * MiB)
      assert.equal((await upload(128 * MiB, null)).bytes, 128 * MiB)
    },
    { timeout: 30_000 },
  )

  after(async () => {
    await gw.close()
    await origin.close()
  })

  test('1 GiB download: exact bytes, origin stalls while the client pauses, RSS < +64 MiB', async () => {
    const result = await measured(() => download(GiB, PAUSE_AT))
    assert.equal(result.bytes, GiB)
    assert.ok(
      result.inFlightWhilePaused >= 0 && result.inFlightWhilePaused < IN_FLIGHT_BOUND,
      `origin ran ${(result.inFlightWhilePaused / MiB).toFixed(1)} MiB ahead of a paused client`,
    )
    assert.ok(
      result.growth < RSS_BUDGET,
      `gateway RSS grew by ${(result.growth / MiB).toFixed(1)} MiB`,
    )
  })

  test('1 GiB upload: exact bytes, client stalls while the origin pauses, RSS < +64 MiB', async () => {
    const result = await measured(() => upload(GiB, PAUSE_AT))
    assert.equal(result.bytes, GiB)
    assert.ok(
      result.inFlightWhilePaused >= 0 && result.inFlightWhilePaused < IN_FLIGHT_BOUND,
      `client ran ${(result.inFlightWhilePaused / MiB).toFixed(1)} MiB ahead of a paused origin`,
    )
    assert.ok(
      result.growth < RSS_BUDGET,
      `gateway RSS grew by ${(result.growth / MiB).toFixed(1)} MiB`,
    )
  })
})

describe('framing and flushing', { timeout: 20_000 }, () => {
  let origin: FakeUpstream
  let gw: TestGateway
  /** The SSE client acknowledges each event here; the origin waits for it before the next. */
  const acks = new EventEmitter()
  const payload = Buffer.alloc(MiB)
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff

  const handlers: Record<
    string,
    (req: IncomingMessage, res: ServerResponse) => Promise<void> | void
  > = {
    '/events': async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      for (let i = 1; i <= 5; i++) {
        const acked = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`event ${i} never reached the client`)),
            3000,
          )
          acks.once(`ack-${i}`, () => {
            clearTimeout(timer)
            resolve()
          })
        })
        res.write(`id: ${i}\ndata: event ${i}\n\n`)
        await acked
      }
      res.end()
    },
    '/head': (_req, res) => {
      // What a GET would answer; Node drops the body itself for HEAD.
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' })
      res.end('hello')
    },
    '/head-chunked': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('would be chunked')
      res.end()
    },
    '/empty': (_req, res) => {
      res.writeHead(204, { 'x-kind': 'no-content' })
      res.end()
    },
    '/cached': (req, res) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"' })
        res.end()
      } else {
        res.writeHead(200, { etag: '"v1"', 'content-length': '6' })
        res.end('fresh!')
      }
    },
    '/after': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' })
      res.end('after')
    },
    '/chunked': async (_req, res) => {
      // Three separate writes, each flushed before the next: the upstream sends three chunks.
      res.writeHead(200, { 'content-type': 'text/plain' })
      for (const part of ['alpha-', 'beta-']) {
        await new Promise<void>((resolve, reject) =>
          res.write(part, (err) => (err ? reject(err) : resolve())),
        )
      }
      res.end('gamma')
    },
    '/sized': async (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(payload.length),
      })
      for (let off = 0; off < payload.length; off += 100_000) {
        if (!res.write(payload.subarray(off, off + 100_000))) await drained(res)
      }
      res.end()
    },
  }

  before(async () => {
    origin = await startFakeUpstream({
      handler: async (req, res) => {
        const h = handlers[(req.url ?? '').split('?')[0] ?? '']
        if (h === undefined) {
          res.statusCode = 404
          res.end()
          return
        }
        await h(req, res)
      },
    })
    gw = await startGateway({
      upstreams: { origin: { targets: [{ url: origin.url }] } },
      routes: [{ name: 'all', match: { prefix: '/' }, upstream: 'origin' }],
    })
  })

  after(async () => {
    await gw.close()
    await origin.close()
  })

  test('server-sent events are flushed one by one (the origin waits for each to arrive)', async () => {
    const events = await new Promise<string[]>((resolve, reject) => {
      const req = http.get(`${gw.url}/events`, { agent: false }, (res) => {
        assert.equal(res.statusCode, 200)
        assert.equal(res.headers['content-type'], 'text/event-stream')
        assert.equal(res.headers['content-length'], undefined)
        const seen: string[] = []
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          text += d
          let sep: number
          while ((sep = text.indexOf('\n\n')) !== -1) {
            seen.push(text.slice(0, sep))
            text = text.slice(sep + 2)
            acks.emit(`ack-${seen.length}`)
          }
        })
        res.on('error', reject)
        res.on('end', () => resolve(seen))
      })
      req.setTimeout(5000, () => req.destroy(new Error('SSE stream stalled: events buffered')))
      req.on('error', reject)
    })
    assert.deepEqual(
      events,
      [1, 2, 3, 4, 5].map((i) => `id: ${i}\ndata: event ${i}`),
    )
  })

  test('HEAD, 204 and 304 carry no body: the next pipelined response parses right after', async () => {
    const conn = await RawConnection.open(gw.port)
    try {
      conn.write(
        'HEAD /head HTTP/1.1\r\nHost: t\r\n\r\n' +
          'HEAD /head-chunked HTTP/1.1\r\nHost: t\r\n\r\n' +
          'GET /empty HTTP/1.1\r\nHost: t\r\n\r\n' +
          'GET /cached HTTP/1.1\r\nHost: t\r\nIf-None-Match: "v1"\r\n\r\n' +
          'GET /after HTTP/1.1\r\nHost: t\r\n\r\n',
      )
      const head = await conn.readResponse({ head: true })
      assert.equal(head.status, 200)
      assert.equal(head.headers['content-length'], '5', 'HEAD keeps the length a GET would have')
      const headChunked = await conn.readResponse({ head: true })
      assert.equal(headChunked.status, 200)
      const empty = await conn.readResponse()
      assert.equal(empty.status, 204)
      assert.equal(empty.headers['x-kind'], 'no-content')
      assert.equal(empty.headers['transfer-encoding'], undefined)
      assert.equal(empty.headers['content-length'], undefined)
      const cached = await conn.readResponse()
      assert.equal(cached.status, 304)
      assert.equal(cached.headers['etag'], '"v1"')
      assert.equal(cached.headers['transfer-encoding'], undefined)
      // Any stray body byte above would have broken this parse.
      const next = await conn.readResponse()
      assert.equal(next.status, 200)
      assert.equal(next.body.toString(), 'after')
      // And nothing else follows on the connection: one more request, one clean answer.
      conn.write('GET /after HTTP/1.1\r\nHost: t\r\n\r\n')
      const last = await conn.readResponse()
      assert.equal(last.body.toString(), 'after')
      assert.equal(conn.pending.length, 0)
    } finally {
      conn.destroy()
    }
  })

  test('a chunked upstream response is re-framed: chunked for 1.1, close-delimited for 1.0', async () => {
    const conn = await RawConnection.open(gw.port)
    try {
      conn.write('GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n')
      const res = await conn.readResponse()
      assert.equal(res.status, 200)
      assert.equal(res.headers['transfer-encoding'], 'chunked', 'one chunked coding, not two')
      assert.equal(res.headers['content-length'], undefined)
      assert.equal(res.chunked, true)
      assert.equal(res.body.toString(), 'alpha-beta-gamma')
      // Same connection still usable after the terminating chunk.
      conn.write('GET /after HTTP/1.1\r\nHost: t\r\n\r\n')
      assert.equal((await conn.readResponse()).body.toString(), 'after')
    } finally {
      conn.destroy()
    }
    const old = await RawConnection.open(gw.port)
    try {
      old.write('GET /chunked HTTP/1.0\r\nHost: t\r\n\r\n')
      const res = await old.readResponse()
      assert.equal(res.status, 200)
      assert.equal(res.headers['transfer-encoding'], undefined, 'no chunked coding for HTTP/1.0')
      assert.equal(res.chunked, false)
      assert.equal(res.body.toString(), 'alpha-beta-gamma')
      await old.closed
    } finally {
      old.destroy()
    }
  })

  test('a Content-Length response passes through with its length and exact bytes', async () => {
    const conn = await RawConnection.open(gw.port)
    try {
      conn.write('GET /sized HTTP/1.1\r\nHost: t\r\n\r\n')
      const res = await conn.readResponse()
      assert.equal(res.status, 200)
      assert.equal(res.headers['content-length'], String(payload.length))
      assert.equal(res.headers['transfer-encoding'], undefined)
      assert.equal(res.body.length, payload.length)
      const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
      assert.equal(digest(res.body), digest(payload))
    } finally {
      conn.destroy()
    }
  })
})
