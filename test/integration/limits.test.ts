/**
 * Client-side limits (SPEC §2 `limits`, §3 Errors): 413 for bodies over `max_body_bytes`
 * (declared or discovered mid-stream, route override or default), `Expect: 100-continue`
 * refused without a 100 first, 431 for heads over `max_header_bytes`, and 408 for slow-loris
 * clients past `header_timeout` while other connections carry on.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { setTimeout as delay } from 'node:timers/promises'
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts'
import { RawConnection } from '../helpers/raw-http.ts'
import { startGateway, type TestGateway } from '../helpers/start-gateway.ts'
import { request } from '../helpers/http-client.ts'
import { waitFor } from '../helpers/wait-for.ts'

const ROUTE_LIMIT = 1024
const DEFAULT_LIMIT = 4096
const HEADER_TIMEOUT_MS = 300

/** How one request ended at the origin: body read to the end, or cut by the gateway. */
interface OriginSeen {
  readonly url: string
  bytes: number
  outcome: 'pending' | 'end' | 'aborted'
}

describe('limits', { timeout: 30_000 }, () => {
  let origin: FakeUpstream
  let gw: TestGateway
  const seen: OriginSeen[] = []

  before(async () => {
    origin = await startFakeUpstream({
      streaming: true,
      handler: (req, res) => {
        const entry: OriginSeen = { url: req.url ?? '', bytes: 0, outcome: 'pending' }
        seen.push(entry)
        if (entry.url.endsWith('/early')) {
          // Answers before reading the body (an auth failure, a cached reply, ...).
          res.end('early')
          return
        }
        req.on('data', (c: Buffer) => (entry.bytes += c.length))
        req.on('end', () => {
          entry.outcome = 'end'
          res.setHeader('content-type', 'application/json')
          res.end(JSON.stringify({ bytes: entry.bytes, expect: req.headers.expect ?? null }))
        })
        req.on('close', () => {
          if (entry.outcome === 'pending') entry.outcome = 'aborted'
        })
      },
    })
    gw = await startGateway({
      defaults: {
        limits: {
          max_body_bytes: DEFAULT_LIMIT,
          max_header_bytes: 4096,
          header_timeout: `${HEADER_TIMEOUT_MS}ms`,
        },
      },
      upstreams: { origin: { targets: [{ url: origin.url }] } },
      routes: [
        {
          name: 'small',
          match: { prefix: '/small' },
          upstream: 'origin',
          limits: { max_body_bytes: ROUTE_LIMIT },
        },
        { name: 'rest', match: { prefix: '/' }, upstream: 'origin' },
      ],
    })
  })

  after(async () => {
    await gw.close()
    await origin.close()
  })

  /** Sends a head declaring `length` bytes, without the body; returns the connection. */
  async function declare(path: string, length: number, extra = ''): Promise<RawConnection> {
    const conn = await RawConnection.open(gw.port)
    conn.write(`POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Length: ${length}\r\n${extra}\r\n`)
    return conn
  }

  test('413 when Content-Length exceeds the route limit or the default; the origin sees nothing', async () => {
    const before = seen.length
    for (const [path, length] of [
      ['/small/a', ROUTE_LIMIT + 1],
      ['/other', DEFAULT_LIMIT + 1],
      ['/small/b', 50 * 1024 * 1024],
    ] as const) {
      const conn = await declare(path, length)
      try {
        const res = await conn.readResponse()
        assert.equal(res.status, 413, `${path} with ${length} bytes`)
        assert.equal(res.headers['content-type'], 'application/json')
        const body = JSON.parse(res.body.toString()) as { status: number; request_id: string }
        assert.equal(body.status, 413)
        assert.equal(body.request_id, res.headers['x-request-id'])
        assert.equal(
          res.headers['connection'],
          'close',
          'the unread body makes the connection unusable',
        )
        await conn.closed
      } finally {
        conn.destroy()
      }
    }
    assert.equal(seen.length, before, 'no request reached the origin')
    assert.equal(origin.requests.length, before)
  })

  test('bodies at the limit pass: route limit and default limit are inclusive', async () => {
    const small = await request(`${gw.url}/small/ok`, {
      method: 'POST',
      body: Buffer.alloc(ROUTE_LIMIT, 'a'),
    })
    assert.equal(small.status, 200)
    assert.equal(small.json<{ bytes: number }>().bytes, ROUTE_LIMIT)
    const other = await request(`${gw.url}/other/ok`, {
      method: 'POST',
      body: Buffer.alloc(DEFAULT_LIMIT, 'a'),
    })
    assert.equal(other.status, 200)
    assert.equal(other.json<{ bytes: number }>().bytes, DEFAULT_LIMIT)
  })

  test('a client that sends the whole oversized body still reads the 413', async () => {
    // The gateway closes without reading the body; the client must get the answer, not a
    // reset, as nginx's lingering close ensures.
    for (let i = 0; i < 5; i++) {
      const res = await request(`${gw.url}/small/full`, {
        method: 'POST',
        body: Buffer.alloc(256 * 1024, 'b'),
      })
      assert.equal(res.status, 413)
    }
  })

  test('413 for a chunked body that goes over the limit mid-stream; the upstream request is cut', async () => {
    const before = seen.length
    const conn = await RawConnection.open(gw.port)
    try {
      conn.write('POST /small/chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n')
      const chunk = `200\r\n${'c'.repeat(0x200)}\r\n`
      conn.write(chunk + chunk)
      // 1024 bytes so far: at the limit, still fine; the origin is reading them.
      await waitFor(() => seen.length > before && seen[before]!.bytes === ROUTE_LIMIT, {
        message: 'origin received the first 1024 bytes',
      })
      conn.write(chunk)
      const res = await conn.readResponse()
      assert.equal(res.status, 413)
      assert.equal(JSON.parse(res.body.toString()).status, 413)
      assert.equal(res.headers['connection'], 'close')
      await conn.closed
    } finally {
      conn.destroy()
    }
    const entry = seen[before]!
    await waitFor(() => entry.outcome !== 'pending', { message: 'origin request finished' })
    assert.equal(entry.outcome, 'aborted', 'the origin never saw a complete (truncated) body')
    assert.ok(entry.bytes <= ROUTE_LIMIT, `origin got ${entry.bytes} bytes`)
  })

  test('a chunked body within the limit is forwarded whole', async () => {
    const conn = await RawConnection.open(gw.port)
    try {
      conn.write(
        'POST /small/chunked-ok HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n' +
          `1f4\r\n${'d'.repeat(500)}\r\n1f4\r\n${'d'.repeat(500)}\r\n0\r\n\r\n`,
      )
      const res = await conn.readResponse()
      assert.equal(res.status, 200)
      assert.equal(JSON.parse(res.body.toString()).bytes, 1000)
    } finally {
      conn.destroy()
    }
  })

  test('after an early upstream answer, a body going over the limit closes the connection', async () => {
    const conn = await RawConnection.open(gw.port)
    const chunk = `200\r\n${'e'.repeat(0x200)}\r\n`
    try {
      conn.write(
        'POST /small/early HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n' + chunk,
      )
      const res = await conn.readResponse()
      assert.equal(res.status, 200)
      assert.equal(res.body.toString(), 'early')
      // Too late for a 413, and the rest cannot be skipped: the connection must not be left
      // hanging with the client blocked mid-upload (it was, before the fix).
      for (let i = 0; i < 8; i++) conn.write(chunk)
      await waitFor(() => conn.endedByServer, { timeoutMs: 3000, message: 'connection closed' })
    } finally {
      conn.destroy()
    }
  })

  test('after an early upstream answer, the rest of a body within the limit is skipped', async () => {
    const conn = await RawConnection.open(gw.port)
    try {
      conn.write(
        'POST /small/early HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n' +
          `100\r\n${'e'.repeat(0x100)}\r\n`,
      )
      assert.equal((await conn.readResponse()).body.toString(), 'early')
      conn.write(`100\r\n${'e'.repeat(0x100)}\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n`)
      const next = await conn.readResponse()
      assert.equal(
        next.status,
        200,
        'the next request on the connection parses from the right byte',
      )
      assert.equal(seen.at(-1)!.url, '/next')
    } finally {
      conn.destroy()
    }
  })

  test('Expect: 100-continue over the limit gets 413 and never a 100 Continue', async () => {
    const before = seen.length
    const conn = await declare('/small/expect', ROUTE_LIMIT * 10, 'Expect: 100-continue\r\n')
    try {
      const first = await conn.readResponse()
      assert.equal(first.status, 413, 'the first response is the refusal, not 100 Continue')
      await conn.closed
      assert.doesNotMatch(first.head, /100 Continue/)
    } finally {
      conn.destroy()
    }
    assert.equal(seen.length, before)
  })

  test('Expect: 100-continue within the limit gets 100 Continue, then the upstream answer', async () => {
    const conn = await declare('/small/expect-ok', 10, 'Expect: 100-continue\r\n')
    try {
      const interim = await conn.readResponse()
      assert.equal(interim.status, 100)
      conn.write('0123456789')
      const final = await conn.readResponse()
      assert.equal(final.status, 200)
      const body = JSON.parse(final.body.toString()) as { bytes: number }
      assert.equal(body.bytes, 10)
    } finally {
      conn.destroy()
    }
  })

  test('431 when the request head exceeds max_header_bytes; a smaller one passes', async () => {
    for (const headers of [
      `X-Big: ${'h'.repeat(5000)}\r\n`,
      Array.from({ length: 100 }, (_, i) => `X-Many-${i}: ${'m'.repeat(50)}\r\n`).join(''),
    ]) {
      const conn = await RawConnection.open(gw.port)
      try {
        conn.write(`GET /big HTTP/1.1\r\nHost: t\r\n${headers}\r\n`)
        const res = await conn.readResponse()
        assert.equal(res.status, 431)
        assert.equal(JSON.parse(res.body.toString()).status, 431)
        await conn.closed
      } finally {
        conn.destroy()
      }
    }
    const ok = await request(`${gw.url}/big`, { headers: { 'x-big': 'h'.repeat(2000) } })
    assert.equal(ok.status, 200)
  })

  test('slow-loris: header bytes trickling past header_timeout get 408 and a closed connection', async () => {
    const before = seen.length
    const conn = await RawConnection.open(gw.port)
    const started = performance.now()
    conn.write('GET /loris HTTP/1.1\r\nHost: t\r\n')
    // One header line every 50 ms: the connection is never idle, the head never completes.
    let n = 0
    const trickle = setInterval(() => conn.write(`X-Slow-${n++}: x\r\n`), 50)
    try {
      // Meanwhile, a normal client on another connection is served as usual.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      try {
        for (let i = 0; i < 3; i++)
          assert.equal((await request(`${gw.url}/ok`, { agent })).status, 200)
      } finally {
        agent.destroy()
      }
      const res = await conn.readResponse({ timeoutMs: 5000 })
      const elapsed = performance.now() - started
      assert.equal(res.status, 408)
      assert.equal(JSON.parse(res.body.toString()).status, 408)
      await conn.closed
      assert.ok(elapsed >= HEADER_TIMEOUT_MS * 0.9, `408 came after ${elapsed.toFixed(0)} ms`)
      assert.ok(elapsed < HEADER_TIMEOUT_MS + 1500, `408 came after ${elapsed.toFixed(0)} ms`)
    } finally {
      clearInterval(trickle)
      conn.destroy()
    }
    assert.ok(
      seen.slice(before).every((s) => s.url !== '/loris'),
      'the incomplete request never reached the origin',
    )
  })

  test('an idle keep-alive connection is not cut by header_timeout between requests', async () => {
    const conn = await RawConnection.open(gw.port)
    try {
      conn.write('GET /first HTTP/1.1\r\nHost: t\r\n\r\n')
      assert.equal((await conn.readResponse()).status, 200)
      // Idle for three header timeouts (the scenario itself, not a synchronisation): the
      // keep-alive timeout, not header_timeout, governs an idle connection.
      await Promise.race([delay(HEADER_TIMEOUT_MS * 3), conn.closed])
      assert.equal(conn.endedByServer, false, 'the idle connection was closed')
      conn.write('GET /second HTTP/1.1\r\nHost: t\r\n\r\n')
      assert.equal((await conn.readResponse()).status, 200)
    } finally {
      conn.destroy()
    }
  })
})
