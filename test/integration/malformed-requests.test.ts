/**
 * Malformed and smuggling requests on raw sockets through the gateway to a strict recording
 * origin: each gets one clean JSON error (400, 413, 431 or 505) and a closed connection, and
 * the origin never gets a complete request; pipelining never desynchronises the connection;
 * valid but unusual requests reach the origin as strictly valid HTTP/1.1.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { badErrorBody, exchange, parseResponses, type WireResponse } from '../helpers/http-fuzz.ts'
import { startGateway, type TestGateway } from '../helpers/start-gateway.ts'
import { fieldOf, type StrictRequest } from '../helpers/strict-http.ts'
import { startStrictOrigin, type StrictOrigin } from '../helpers/strict-origin.ts'
import { waitFor } from '../helpers/wait-for.ts'

const H = 'Host: a.example\r\n'
const MAX_BODY_BYTES = 1024
// Long enough never to cut a slow answer, only ever waited out when a test is about to fail.
const IDLE_MS = 3000

let origin: StrictOrigin
let gw: TestGateway

before(async () => {
  origin = await startStrictOrigin({ forbiddenHeaders: ['x-hop'] })
  gw = await startGateway({
    defaults: { limits: { max_body_bytes: MAX_BODY_BYTES } },
    upstreams: { strict: { targets: [{ url: origin.url }] } },
    routes: [{ name: 'all', match: { prefix: '/' }, upstream: 'strict' }],
  })
})

after(async () => {
  await gw.close()
  await origin.close()
})

/** Sends `raw` on a new connection; the responses, and whether the gateway closed it. */
async function send(
  raw: string,
  opts: { end?: boolean; expectFinals?: number; idleMs?: number } = {},
): Promise<{ responses: WireResponse[]; closed: boolean }> {
  const ex = await exchange(gw.port, Buffer.from(raw, 'latin1'), {
    idleMs: opts.idleMs ?? IDLE_MS,
    endAfterWrite: opts.end === true,
    ...(opts.expectFinals === undefined ? {} : { expectFinals: opts.expectFinals }),
  })
  const { responses, error } = parseResponses(ex.received)
  assert.equal(error, null, `malformed answer ${JSON.stringify(ex.received.toString('latin1'))}`)
  return { responses, closed: ex.how === 'end' || ex.how === 'reset' }
}

/** The error answer is the gateway's: complete, JSON `{error,status,request_id}`, closing. */
function assertCleanError(res: WireResponse | undefined, status: number): void {
  assert.ok(res !== undefined, 'no response at all')
  assert.equal(res.status, status)
  assert.equal(badErrorBody(res), null)
  assert.equal(res.headers.get('connection'), 'close')
  assert.equal(res.headers.get('x-request-id'), JSON.parse(res.body.toString())['request_id'])
}

/**
 * The origin got complete requests for `targets` only, and any partial one was aborted
 * (nothing hangs upstream).
 */
async function assertOriginAborted(targets: readonly string[]): Promise<void> {
  await waitFor(() => origin.partial === 0, { message: 'an upstream attempt left hanging' })
  assert.deepEqual(origin.violations, [])
  assert.deepEqual(
    origin.requests.map((r) => r.target),
    targets,
    'a malformed request reached the origin',
  )
}

/** The origin got no complete request, and any partial one was aborted. */
async function assertOriginUntouched(): Promise<void> {
  await assertOriginAborted([])
}

const SMUGGLING: readonly (readonly [string, string, number])[] = [
  [
    'CL then TE',
    `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n`,
    400,
  ],
  [
    'TE then CL',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n`,
    400,
  ],
  [
    'differing duplicate Content-Length',
    `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`,
    400,
  ],
  [
    'identical duplicate Content-Length',
    `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`,
    400,
  ],
  ['Content-Length +3', `POST / HTTP/1.1\r\n${H}Content-Length: +3\r\n\r\nabc`, 400],
  ['Content-Length -3', `POST / HTTP/1.1\r\n${H}Content-Length: -3\r\n\r\nabc`, 400],
  ['Content-Length 0x3', `POST / HTTP/1.1\r\n${H}Content-Length: 0x3\r\n\r\nabc`, 400],
  ['Content-Length "3 3"', `POST / HTTP/1.1\r\n${H}Content-Length: 3 3\r\n\r\nabc`, 400],
  ['Content-Length "3,3"', `POST / HTTP/1.1\r\n${H}Content-Length: 3,3\r\n\r\nabc`, 400],
  ['empty Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`, 400],
  [
    'Content-Length past 2^64',
    `POST / HTTP/1.1\r\n${H}Content-Length: 18446744073709551617\r\n\r\n`,
    400,
  ],
  ['Transfer-Encoding gzip', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\nabc`, 400],
  [
    'Transfer-Encoding "gzip, chunked"',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    'Transfer-Encoding "chunked, gzip"',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    'Transfer-Encoding xchunked',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    'Transfer-Encoding chunked + vertical tab',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    'Transfer-Encoding with a form feed before chunked',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\x0cchunked\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    'Transfer-Encoding twice',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    '"Transfer-Encoding : chunked" (space before colon)',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    'Transfer-Encoding on HTTP/1.0',
    `POST / HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    'Transfer-Encoding folded onto the next line',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`,
    400,
  ],
  ['obs-fold in a field', `GET / HTTP/1.1\r\n${H}X-A: one\r\n two\r\n\r\n`, 400],
  [
    'upgrade announcing a body',
    `GET /ws HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello`,
    400,
  ],
]

const MALFORMED: readonly (readonly [string, string, number])[] = [
  ['bare LF line endings', `GET / HTTP/1.1\n${H.replace('\r', '')}\n`, 400],
  ['bare LF in one header line', `GET / HTTP/1.1\r\n${H}X-A: 1\n\r\n`, 400],
  ['bare CR inside a header line', `GET / HTTP/1.1\r\n${H}X-A: 1\rX-B: 2\r\n\r\n`, 400],
  ['NUL in a field value', `GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`, 400],
  ['control byte 0x01 in a field value', `GET / HTTP/1.1\r\n${H}X-A: a\x01b\r\n\r\n`, 400],
  ['DEL in a field value', `GET / HTTP/1.1\r\n${H}X-A: a\x7fb\r\n\r\n`, 400],
  ['NUL in a field name', `GET / HTTP/1.1\r\n${H}X-\x00A: 1\r\n\r\n`, 400],
  ['non-token field name', `GET / HTTP/1.1\r\n${H}X(A): 1\r\n\r\n`, 400],
  ['whitespace before a colon', `GET / HTTP/1.1\r\nHost : a.example\r\n\r\n`, 400],
  ['missing Host in HTTP/1.1', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', 400],
  ['duplicate Host', `GET / HTTP/1.1\r\n${H}Host: b.example\r\n\r\n`, 400],
  ['Host with a space', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400],
  ['Host with userinfo', 'GET / HTTP/1.1\r\nHost: u@a.example\r\n\r\n', 400],
  ['Host with a bad escape', 'GET / HTTP/1.1\r\nHost: a.%zzample\r\n\r\n', 400],
  ['Host with a six-digit port', 'GET / HTTP/1.1\r\nHost: a.example:123456\r\n\r\n', 400],
  ['HTTP/1.2', `GET / HTTP/1.2\r\n${H}\r\n`, 505],
  ['HTTP/2.0', `GET / HTTP/2.0\r\n${H}\r\n`, 505],
  ['HTTP/0.9', `GET / HTTP/0.9\r\n${H}\r\n`, 505],
  ['HTTP/3.0', `GET / HTTP/3.0\r\n${H}\r\n`, 505],
  ['a version with garbage after it', `GET / HTTP/1.1x\r\n${H}\r\n`, 400],
  ['lower-case version', `GET / http/1.1\r\n${H}\r\n`, 400],
  ['garbage request line', `HELLO\r\n${H}\r\n`, 400],
  ['lower-case method', `get / HTTP/1.1\r\n${H}\r\n`, 400],
  ['HTTP/2 connection preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400],
  ['tab as the request-line separator', `GET\t/ HTTP/1.1\r\n${H}\r\n`, 400],
  ['a space in the path', `GET /a b HTTP/1.1\r\n${H}\r\n`, 400],
  ['a path escaping the root', `GET /../x HTTP/1.1\r\n${H}\r\n`, 400],
  ['an encoded path escaping the root', `GET /a/%2e%2e/%2e%2e/x HTTP/1.1\r\n${H}\r\n`, 400],
  ['a bad escape in the path', `GET /a%zz HTTP/1.1\r\n${H}\r\n`, 400],
  ['a backslash in the path', `GET /public\\..\\admin HTTP/1.1\r\n${H}\r\n`, 400],
  ['a double quote in the query', `GET /a?q="x" HTTP/1.1\r\n${H}\r\n`, 400],
  ['a fragment in the target', `GET /a?q#frag HTTP/1.1\r\n${H}\r\n`, 400],
  ['asterisk-form on OPTIONS', `OPTIONS * HTTP/1.1\r\n${H}\r\n`, 400],
  ['absolute-form with userinfo', `GET http://user:pw@a.example/ HTTP/1.1\r\n${H}\r\n`, 400],
  ['absolute-form with an empty host', `GET http:///x HTTP/1.1\r\n${H}\r\n`, 400],
  [
    'an invalid chunk size',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
    400,
  ],
  [
    'a chunk size overflowing 64 bits',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nabc\r\n0\r\n\r\n`,
    400,
  ],
  [
    'a negative chunk size',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n`,
    400,
  ],
  [
    'no CRLF after chunk data',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n`,
    400,
  ],
  [
    'a bare LF after a chunk size',
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n`,
    400,
  ],
  [
    'Content-Length over max_body_bytes',
    `POST / HTTP/1.1\r\n${H}Content-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`,
    413,
  ],
  [
    'a header section over max_header_bytes',
    `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    431,
  ],
]

describe('smuggling attempts: 400, closed, never forwarded', () => {
  for (const [why, raw, status] of SMUGGLING) {
    test(`${why} → ${status}`, async () => {
      origin.reset()
      const { responses, closed } = await send(raw)
      assert.equal(responses.length, 1, 'exactly one answer')
      assertCleanError(responses[0], status)
      assert.ok(closed, 'the gateway closes the connection')
      await assertOriginUntouched()
    })
  }
})

describe('malformed requests: clean 4xx/505, closed, never forwarded', () => {
  for (const [why, raw, status] of MALFORMED) {
    test(`${why} → ${status}`, async () => {
      origin.reset()
      const { responses, closed } = await send(raw)
      assert.equal(responses.length, 1, 'exactly one answer')
      assertCleanError(responses[0], status)
      assert.ok(closed, 'the gateway closes the connection')
      await assertOriginUntouched()
    })
  }

  test('a body cut short by EOF → 400, and the upstream attempt is aborted', async () => {
    origin.reset()
    const raw = `POST / HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\nabc`
    const { responses, closed } = await send(raw, { end: true })
    assertCleanError(responses[0], 400)
    assert.ok(closed)
    await assertOriginUntouched()
  })

  test('a chunked body over max_body_bytes → 413', async () => {
    origin.reset()
    const chunk = 'x'.repeat(MAX_BODY_BYTES + 10)
    const raw =
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n` +
      `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`
    const { responses, closed } = await send(raw)
    assertCleanError(responses[0], 413)
    assert.ok(closed)
    await assertOriginUntouched()
  })
})

/**
 * Sends `raw`, a valid `GET /first` followed by something to refuse, while the origin holds its
 * answer to /first: the refusal is known while a response is still owed, so it must wait for
 * it instead of overtaking it. Asserts the owed 200, then one clean 400, then the close.
 */
async function owedThenRefused(raw: string): Promise<WireResponse[]> {
  origin.reset()
  origin.hold()
  const pending = send(raw)
  await waitFor(() => origin.requests.length === 1, { message: 'first request forwarded' })
  origin.release()
  const { responses, closed } = await pending
  assert.deepEqual(
    responses.map((r) => r.status),
    [200, 400],
  )
  assertCleanError(responses[1], 400)
  assert.ok(closed)
  return responses
}

describe('pipelining never desynchronises the connection', () => {
  test('a smuggling attempt pipelined after a valid request: one 200, then a 400, then close', async () => {
    const responses = await owedThenRefused(
      `GET /first HTTP/1.1\r\n${H}\r\n` +
        `POST /second HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `0\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n`,
    )
    assert.equal(responses[0]?.body.toString(), 'ok')
    assert.deepEqual(
      origin.requests.map((r) => r.target),
      ['/first'],
    )
    assert.deepEqual(origin.violations, [])
  })

  test('requests pipelined behind a refused one are never forwarded', async () => {
    await owedThenRefused(
      `GET /first HTTP/1.1\r\n${H}\r\n` +
        'GET /no-host HTTP/1.1\r\n\r\n' +
        `GET /after-refusal HTTP/1.1\r\n${H}\r\n`,
    )
    assert.deepEqual(
      origin.requests.map((r) => r.target),
      ['/first'],
    )
  })

  test('nothing after a request with Connection: close is forwarded', async () => {
    origin.reset()
    const raw =
      `GET /first HTTP/1.1\r\n${H}Connection: close\r\n\r\n` + `GET /second HTTP/1.1\r\n${H}\r\n`
    const { responses, closed } = await send(raw)
    assert.deepEqual(
      responses.map((r) => r.status),
      [200],
    )
    assert.equal(responses[0]?.headers.get('connection'), 'close')
    assert.ok(closed)
    await waitFor(() => origin.partial === 0)
    assert.deepEqual(
      origin.requests.map((r) => r.target),
      ['/first'],
    )
  })

  test('an upgrade pipelined behind an unanswered request: 200, then 400, never tunnelled', async () => {
    await owedThenRefused(
      `GET /first HTTP/1.1\r\n${H}\r\n` +
        `GET /ws HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
    )
    assert.deepEqual(
      origin.requests.map((r) => r.target),
      ['/first'],
    )
  })

  test('a broken chunked body while a response is owed: the owed 200, then 400', async () => {
    await owedThenRefused(
      `GET /first HTTP/1.1\r\n${H}\r\n` +
        `POST /second HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n`,
    )
    // /second was already streaming upstream: its attempt is aborted, never completed.
    await assertOriginAborted(['/first'])
  })
})

/** Sends one valid request and returns what the origin got for it (exactly one request). */
async function forwarded(raw: string): Promise<StrictRequest> {
  origin.reset()
  const { responses } = await send(raw, { expectFinals: 1 })
  const finals = responses.filter((r) => r.status >= 200)
  assert.deepEqual(
    finals.map((r) => r.status),
    [200],
  )
  assert.equal(finals[0]?.body.toString(), 'ok')
  assert.deepEqual(origin.violations, [])
  assert.equal(origin.requests.length, 1)
  return origin.requests[0] as StrictRequest
}

describe('valid but unusual requests pass, as strictly valid HTTP/1.1', () => {
  test('Transfer-Encoding CHUNKED in upper case, with chunk extensions and a trailer', async () => {
    const req = await forwarded(
      `POST /te HTTP/1.1\r\n${H}Transfer-Encoding: CHUNKED\r\n\r\n` +
        '3;ext=1\r\nabc\r\n2;a=b;c="d e"\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n',
    )
    assert.equal(req.body.toString(), 'abcde')
    assert.equal(fieldOf(req, 'x-trailer'), undefined)
  })

  test('POST with Content-Length: 0', async () => {
    const req = await forwarded(`POST /empty HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`)
    assert.equal(req.method, 'POST')
    assert.equal(req.body.length, 0)
  })

  test('HTTP/1.0 without Host goes out as HTTP/1.1 with an empty Host', async () => {
    const req = await forwarded('GET /old HTTP/1.0\r\n\r\n')
    assert.equal(req.version, '1.1')
    assert.equal(fieldOf(req, 'host'), '')
  })

  test('absolute-form: origin-form upstream, Host taken from the target (RFC 9112 §3.2.2)', async () => {
    const req = await forwarded(`GET http://b.example:8080/abs?q=1 HTTP/1.1\r\n${H}\r\n`)
    assert.equal(req.target, '/abs?q=1')
    assert.equal(fieldOf(req, 'host'), 'b.example:8080')
  })

  test('a tab inside a field value and obs-text (0xff) pass byte for byte', async () => {
    const req = await forwarded(
      `GET /bytes HTTP/1.1\r\n${H}X-Tab: a\tb\r\nX-Obs: caf\xe9 \xff\r\n\r\n`,
    )
    assert.equal(fieldOf(req, 'x-tab'), 'a\tb')
    assert.equal(fieldOf(req, 'x-obs'), 'caf\xe9 \xff')
  })

  test('an empty line before the request line is ignored (RFC 9112 §2.2)', async () => {
    const req = await forwarded(`\r\nGET /after-crlf HTTP/1.1\r\n${H}\r\n`)
    assert.equal(req.target, '/after-crlf')
  })

  test('hop-by-hop fields and the ones Connection names are dropped', async () => {
    const req = await forwarded(
      `GET /hop HTTP/1.1\r\n${H}Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\n` +
        'Keep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: x\r\nProxy-Connection: keep-alive\r\n\r\n',
    )
    assert.equal(fieldOf(req, 'x-hop'), undefined)
  })

  test('Connection cannot strip the headers the gateway itself sets', async () => {
    const req = await forwarded(
      `GET /conn HTTP/1.1\r\n${H}Connection: host, x-forwarded-for, x-real-ip, x-request-id\r\n\r\n`,
    )
    assert.equal(fieldOf(req, 'host'), 'a.example')
    assert.equal(fieldOf(req, 'x-forwarded-for'), '127.0.0.1')
    assert.equal(fieldOf(req, 'x-real-ip'), '127.0.0.1')
    assert.ok(fieldOf(req, 'x-request-id') !== undefined)
  })

  test('dot segments and escapes of unreserved characters are normalised', async () => {
    const req = await forwarded(`GET /a/./b/../%7euser/%41 HTTP/1.1\r\n${H}\r\n`)
    assert.equal(req.target, '/a/~user/A')
  })

  test('browser-style raw brackets and pipes in the query pass (a tolerated deviation)', async () => {
    const req = await forwarded(`GET /q?ids[]=1&ids[]=2&f=a|b HTTP/1.1\r\n${H}\r\n`)
    assert.equal(req.target, '/q?ids[]=1&ids[]=2&f=a|b')
    assert.equal(origin.deviations.length, 1)
  })
})

describe('Expect, CONNECT and pipelined 100-continue', () => {
  test('an unknown Expect gets the gateway JSON answer, not Node’s bare keep-alive 417', async () => {
    origin.reset()
    const { responses } = await send(`GET /expect HTTP/1.1\r\n${H}Expect: teapot\r\n\r\n`, {
      idleMs: 500,
    })
    const res = responses[0]
    assert.ok(res !== undefined)
    if (res.status !== 200) assertCleanError(res, res.status)
  })

  test('CONNECT gets a JSON refusal instead of a silent close', async () => {
    origin.reset()
    const { responses, closed } = await send(`CONNECT a.example:443 HTTP/1.1\r\n${H}\r\n`)
    assert.ok(closed)
    assert.equal(responses.length, 1)
    assert.ok((responses[0]?.status ?? 0) >= 400)
    await assertOriginUntouched()
  })

  test('a pipelined Expect: 100-continue gets its 100 before its final response', async () => {
    origin.reset()
    origin.hold((r) => r.target === '/first')
    const raw =
      `GET /first HTTP/1.1\r\n${H}\r\n` +
      `POST /second HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc`
    const pending = exchange(gw.port, Buffer.from(raw, 'latin1'), {
      idleMs: IDLE_MS,
      endAfterWrite: false,
      expectFinals: 2,
    })
    await waitFor(() => origin.requests.length === 2, { message: 'both requests forwarded' })
    origin.release()
    const { responses, error } = parseResponses((await pending).received)
    assert.equal(error, null)
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 100, 200],
    )
  })
})
