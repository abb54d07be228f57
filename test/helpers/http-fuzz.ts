/**
 * A seeded HTTP/1.x request fuzzer for tests: a corpus of valid requests (GET, POST with
 * Content-Length, chunked POST, pipelined pairs, upgrade-looking and HTTP/1.0 requests) and
 * byte- and grammar-level mutations aimed at framing and parsing. Same seed, same cases.
 * Also the client side of an exchange: raw socket, response-stream parsing.
 */
import net from 'node:net'
import { createSeededRandom } from './seeded-random.ts'

export interface FuzzCase {
  readonly id: number
  readonly bytes: Buffer
  /** Half-close the connection after writing, so the gateway sees EOF instead of waiting. */
  readonly endAfterWrite: boolean
  /** Names of the corpus entry and the mutations applied, for failure messages. */
  readonly recipe: string
}

type Rng = () => number

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T
const int = (rng: Rng, max: number): number => Math.floor(rng() * max)

const HOSTS = ['a.example', 'b.example:8080', '127.0.0.1', '[::1]:80']
const PATHS = ['/', '/f/a', '/f/b/c?q=1', '/f/%7euser/x', '/f/./d', '/f/e/../g', '/f?x=a&y=b']

function head(rng: Rng, id: number, method: string, extra: readonly string[]): string {
  // the case id in the path makes an origin-side record easy to trace back to its case
  const path = pick(rng, PATHS).replace(/^\/f/, `/f${id}`)
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${pick(rng, HOSTS)}`]
  if (rng() < 0.5) lines.push('User-Agent: fuzz/1.0')
  if (rng() < 0.3) lines.push('Accept: */*')
  if (rng() < 0.2) lines.push(`X-Request-Id: case-${id}`)
  lines.push(...extra)
  return `${lines.join('\r\n')}\r\n\r\n`
}

function body(rng: Rng): string {
  return 'abcdefghijklmnopqrstuvwxyz0123456789'.slice(0, 1 + int(rng, 30))
}

function chunked(rng: Rng, data: string): string {
  let out = ''
  let rest = data
  while (rest.length > 0) {
    const n = 1 + int(rng, rest.length)
    const ext = rng() < 0.2 ? ';name=value' : ''
    out += `${n.toString(16)}${ext}\r\n${rest.slice(0, n)}\r\n`
    rest = rest.slice(n)
  }
  return `${out}0\r\n\r\n`
}

/** Corpus entries: each builds one valid byte string (possibly several pipelined requests). */
const CORPUS: readonly (readonly [string, (rng: Rng, id: number) => string])[] = [
  ['get', (rng, id) => head(rng, id, 'GET', [])],
  [
    'post-cl',
    (rng, id) => {
      const b = body(rng)
      return head(rng, id, 'POST', ['Content-Type: text/plain', `Content-Length: ${b.length}`]) + b
    },
  ],
  [
    'post-chunked',
    (rng, id) =>
      head(rng, id, pick(rng, ['POST', 'PUT']), ['Transfer-Encoding: chunked']) +
      chunked(rng, body(rng)),
  ],
  ['get-close', (rng, id) => head(rng, id, 'GET', ['Connection: close'])],
  [
    'pipelined-get-get',
    (rng, id) => head(rng, id, 'GET', []) + head(rng, id, 'GET', ['Connection: close']),
  ],
  [
    'pipelined-get-post',
    (rng, id) => {
      const b = body(rng)
      return head(rng, id, 'GET', []) + head(rng, id, 'POST', [`Content-Length: ${b.length}`]) + b
    },
  ],
  [
    'pipelined-chunked-get',
    (rng, id) =>
      head(rng, id, 'POST', ['Transfer-Encoding: chunked']) +
      chunked(rng, body(rng)) +
      head(rng, id, 'GET', []),
  ],
  [
    'upgrade',
    (rng, id) =>
      head(rng, id, 'GET', [
        'Connection: Upgrade',
        'Upgrade: websocket',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      ]),
  ],
  ['http10', (_rng, id) => `GET /f${id}/old HTTP/1.0\r\nUser-Agent: fuzz/1.0\r\n\r\n`],
  ['absolute-form', (rng, id) => head(rng, id, 'GET', []).replace(' /', ' http://c.example/')],
  [
    'expect-continue',
    (rng, id) => {
      const b = body(rng)
      return head(rng, id, 'POST', ['Expect: 100-continue', `Content-Length: ${b.length}`]) + b
    },
  ],
  [
    'hop-by-hop',
    (rng, id) =>
      head(rng, id, 'GET', [
        'Connection: keep-alive, X-Hop',
        'X-Hop: 1',
        'Keep-Alive: 5',
        'TE: trailers',
      ]),
  ],
]

const FRAMING_LINES = [
  'Content-Length: 5',
  'Content-Length: 0',
  'Content-Length: -1',
  'Content-Length: +5',
  'Content-Length: 0x5',
  'Content-Length: 5, 5',
  'Content-Length: 5 5',
  'Content-Length:',
  'Content-Length: 99999999999999999999999',
  'Content-Length: 1e3',
  'Content-Length : 5',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: CHUNKED',
  'Transfer-Encoding: gzip',
  'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding: chunked, gzip',
  'Transfer-Encoding: chunked, chunked',
  'Transfer-Encoding: xchunked',
  'Transfer-Encoding: chunked\x0b',
  'Transfer-Encoding:\tchunked',
  'Transfer-Encoding : chunked',
  ' Transfer-Encoding: chunked',
  'Transfer-Encoding:\r\n chunked',
  'Transfer-Encoding: identity',
  'X-Fold: a\r\n b',
  'Host: other.example',
  'Connection: upgrade',
  'Upgrade: websocket',
]

const NUMBERS = [
  '-1',
  '+5',
  '0x10',
  ' 5',
  '5 ',
  '05',
  '1_0',
  '18446744073709551616',
  'ffffffffffffffffff',
  '',
  '3.0',
]
const VERSIONS = [
  'HTTP/1.0',
  'HTTP/1.2',
  'HTTP/2.0',
  'HTTP/0.9',
  'HTTP/3.0',
  'HTTP/1.10',
  'HTTP/11',
  'http/1.1',
  'HTTP/1.1 ',
  'HTTP/1',
  'HTTP/9.9',
]
const METHODS = [
  'get',
  'GeT',
  'G ET',
  'CONNECT',
  'PRI',
  'FOO',
  'POST',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'PATCH',
  '',
]
const PATH_BITS = [
  '..',
  '/..',
  '/../..',
  '%2e%2e',
  '//',
  '#',
  ' ',
  '\\',
  '"',
  '%zz',
  '%',
  '|',
  '{}',
  '?',
  '\x00',
  '\xff',
  '@',
]
const SPECIAL_BYTES = [
  0x00, 0x01, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x22, 0x2c, 0x3a, 0x3b, 0x7f, 0x80, 0xff,
]

/** A mutation rewrites latin1 text; returns the new text. */
const MUTATIONS: readonly (readonly [
  string,
  (rng: Rng, s: string, corpus: (rng: Rng) => string) => string,
])[] = [
  [
    'flip',
    (rng, s) => {
      const at = int(rng, s.length)
      return replaceAt(s, at, String.fromCharCode((s.charCodeAt(at) ^ (1 << int(rng, 8))) & 0xff))
    },
  ],
  [
    'insert',
    (rng, s) =>
      insertAt(
        s,
        int(rng, s.length + 1),
        String.fromCharCode(rng() < 0.7 ? pick(rng, SPECIAL_BYTES) : int(rng, 256)),
      ),
  ],
  [
    'delete',
    (rng, s) => {
      const at = int(rng, s.length)
      return s.slice(0, at) + s.slice(at + 1 + int(rng, 3))
    },
  ],
  ['crlf-to-lf', (rng, s) => replaceNth(rng, s, '\r\n', '\n')],
  ['crlf-to-cr', (rng, s) => replaceNth(rng, s, '\r\n', '\r')],
  ['all-lf', (_rng, s) => s.replaceAll('\r\n', '\n')],
  [
    'dup-line',
    (rng, s) => {
      const lines = headLines(s)
      if (lines.fields.length === 0) return s
      const line = pick(rng, lines.fields)
      return s.replace(`\r\n${line}\r\n`, `\r\n${line}\r\n${line}\r\n`)
    },
  ],
  [
    'drop-line',
    (rng, s) => {
      const lines = headLines(s)
      if (lines.fields.length === 0) return s
      return s.replace(`\r\n${pick(rng, lines.fields)}\r\n`, '\r\n')
    },
  ],
  [
    'inject-framing',
    (rng, s) => {
      const at = s.indexOf('\r\n')
      return at === -1 ? s : insertAt(s, at + 2, `${pick(rng, FRAMING_LINES)}\r\n`)
    },
  ],
  [
    'splice',
    (rng, s, corpus) => {
      const other = corpus(rng)
      return s.slice(0, int(rng, s.length + 1)) + other.slice(int(rng, other.length))
    },
  ],
  ['truncate', (rng, s) => s.slice(0, int(rng, s.length))],
  [
    'control-in-field',
    (rng, s) => {
      const lines = headLines(s)
      if (lines.fields.length === 0) return s
      const line = pick(rng, lines.fields)
      const byte = String.fromCharCode(
        pick(rng, [0x00, 0x01, 0x07, 0x08, 0x0b, 0x0c, 0x0d, 0x0a, 0x1b, 0x7f]),
      )
      return s.replace(line, insertAt(line, int(rng, line.length + 1), byte))
    },
  ],
  [
    'case',
    (rng, s) =>
      s.replace(/transfer-encoding|content-length|chunked|host|connection/gi, (m) =>
        flipCase(m, rng),
      ),
  ],
  [
    'number',
    (rng, s) => {
      const matches = [
        ...s.matchAll(/(?<=Content-Length: )\d+|(?<=\r\n)[0-9a-f]+(?=(?:;[^\r\n]*)?\r\n)/gi),
      ]
      if (matches.length === 0) return s
      const m = pick(rng, matches)
      return s.slice(0, m.index) + pick(rng, NUMBERS) + s.slice(m.index + m[0].length)
    },
  ],
  ['version', (rng, s) => s.replace('HTTP/1.1', pick(rng, VERSIONS))],
  ['method', (rng, s) => s.replace(/^[A-Z]+/, pick(rng, METHODS))],
  [
    'path',
    (rng, s) => {
      const sp = s.indexOf(' /')
      return sp === -1 ? s : insertAt(s, sp + 2 + int(rng, 4), pick(rng, PATH_BITS))
    },
  ],
]

function replaceAt(s: string, at: number, c: string): string {
  return s.slice(0, at) + c + s.slice(at + 1)
}

function insertAt(s: string, at: number, text: string): string {
  return s.slice(0, at) + text + s.slice(at)
}

function replaceNth(rng: Rng, s: string, find: string, by: string): string {
  const count = s.split(find).length - 1
  if (count === 0) return s
  let n = int(rng, count)
  return s.replace(new RegExp(find, 'g'), (m) => (n-- === 0 ? by : m))
}

function flipCase(text: string, rng: Rng): string {
  let out = ''
  for (const c of text) out += rng() < 0.5 ? c.toUpperCase() : c.toLowerCase()
  return out
}

function headLines(s: string): { fields: string[] } {
  const end = s.indexOf('\r\n\r\n')
  if (end === -1) return { fields: [] }
  return {
    fields: s
      .slice(0, end)
      .split('\r\n')
      .slice(1)
      .filter((l) => l !== ''),
  }
}

/**
 * An endless, deterministic stream of fuzz cases for `seed`: a corpus entry with 1–3 mutations
 * (a few cases are left valid on purpose, so the comparison has something to forward).
 */
export function createFuzzer(seed: number): { next(): FuzzCase } {
  const rng = createSeededRandom(seed)
  let id = 0
  const corpusText = (r: Rng): string => {
    const [, build] = pick(r, CORPUS)
    return build(r, id)
  }
  return {
    next() {
      id++
      const [name, build] = pick(rng, CORPUS)
      let text = build(rng, id)
      const applied: string[] = [name]
      const count = rng() < 0.08 ? 0 : 1 + int(rng, 3)
      for (let i = 0; i < count; i++) {
        const [mName, mutate] = pick(rng, MUTATIONS)
        text = mutate(rng, text, corpusText)
        applied.push(mName)
      }
      return {
        id,
        bytes: Buffer.from(text, 'latin1'),
        endAfterWrite: rng() < 0.1,
        recipe: applied.join('+'),
      }
    },
  }
}

/** What a client saw on one connection. */
export interface Exchange {
  readonly received: Buffer
  /**
   * `end`: the server closed; `reset`: an error such as ECONNRESET; `idle`: we gave up waiting;
   * `done`: we closed after the expected number of successful final responses.
   */
  readonly how: 'end' | 'reset' | 'idle' | 'done'
}

export interface ExchangeOptions {
  readonly idleMs: number
  readonly endAfterWrite: boolean
  /**
   * Close as soon as this many final (≥ 200, or 101) responses below 400 arrived, instead of
   * waiting out the idle time of a keep-alive connection. Errors are always waited out, so
   * that the server's own close can be checked.
   */
  readonly expectFinals?: number
}

/** Writes `bytes` on a new connection and collects the answer until close or `idleMs` of quiet. */
export async function exchange(
  port: number,
  bytes: Buffer,
  opts: ExchangeOptions,
): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let how: Exchange['how'] = 'idle'
    socket.setTimeout(opts.idleMs, () => socket.destroy())
    socket.on('data', (d: Buffer) => {
      chunks.push(d)
      if (opts.expectFinals === undefined) return
      const { responses, error } = parseResponses(Buffer.concat(chunks))
      const finals = responses.filter((r) => r.status >= 200 || r.status === 101)
      if (
        error === null &&
        finals.length >= opts.expectFinals &&
        finals.every((r) => r.status < 400)
      ) {
        how = 'done'
        socket.destroy()
      }
    })
    socket.on('end', () => {
      how = 'end'
      socket.destroy()
    })
    socket.on('error', () => {
      if (how === 'idle') how = 'reset'
    })
    socket.on('close', () => resolve({ received: Buffer.concat(chunks), how }))
    socket.write(bytes)
    if (opts.endAfterWrite) socket.end()
  })
}

/** One response as read off the wire by `parseResponses`. */
export interface WireResponse {
  readonly status: number
  readonly headers: ReadonlyMap<string, string>
  readonly body: Buffer
}

/**
 * Splits what a client received into complete HTTP/1.1 responses (Content-Length framing, or
 * no body for 1xx/204/304). Stops after a 101 (tunnel bytes follow). `error` says why the
 * bytes are not a clean sequence of responses; null when they are.
 */
export function parseResponses(buf: Buffer): { responses: WireResponse[]; error: string | null } {
  const responses: WireResponse[] = []
  let pos = 0
  while (pos < buf.length) {
    const end = buf.indexOf('\r\n\r\n', pos, 'latin1')
    if (end === -1) return { responses, error: `incomplete response head at byte ${pos}` }
    const lines = buf.toString('latin1', pos, end).split('\r\n')
    const m = /^HTTP\/1\.1 (\d{3}) [\x20-\x7e]*$/.exec(lines[0] ?? '')
    if (m === null) return { responses, error: `bad status line ${JSON.stringify(lines[0])}` }
    const status = Number(m[1])
    const headers = new Map<string, string>()
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      if (colon <= 0) return { responses, error: `bad response field ${JSON.stringify(line)}` }
      const name = line.slice(0, colon).toLowerCase()
      if (headers.has(name) && name === 'content-length')
        return { responses, error: 'two Content-Length' }
      headers.set(name, line.slice(colon + 1).trim())
    }
    pos = end + 4
    const noBody = status < 200 || status === 204 || status === 304
    if (!noBody && headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
      const chunked = readChunked(buf, pos)
      if (typeof chunked === 'string') return { responses, error: `${status}: ${chunked}` }
      responses.push({ status, headers, body: chunked.body })
      pos = chunked.end
      continue
    }
    const length = noBody ? 0 : Number(headers.get('content-length') ?? NaN)
    if (!Number.isInteger(length))
      return { responses, error: `response ${status} without Content-Length` }
    if (buf.length < pos + length) return { responses, error: `truncated ${status} body` }
    responses.push({ status, headers, body: buf.subarray(pos, pos + length) })
    pos += length
    if (status === 101) break
  }
  return { responses, error: null }
}

/** A chunked response body at `pos` (no trailers expected), or why it is not one. */
function readChunked(buf: Buffer, pos: number): { body: Buffer; end: number } | string {
  const parts: Buffer[] = []
  for (;;) {
    const eol = buf.indexOf('\r\n', pos, 'latin1')
    if (eol === -1) return 'truncated chunked body'
    const size = parseInt(buf.toString('latin1', pos, eol), 16)
    if (!Number.isInteger(size)) return 'bad chunk size in response'
    pos = eol + 2
    if (size === 0) break
    if (buf.length < pos + size + 2) return 'truncated chunk'
    parts.push(buf.subarray(pos, pos + size))
    pos += size + 2
  }
  if (buf.toString('latin1', pos, pos + 2) !== '\r\n') return 'truncated chunked body end'
  return { body: Buffer.concat(parts), end: pos + 2 }
}

/**
 * Why an error response is not the gateway's JSON error shape, or null. Also refuses anything
 * that looks like internals leaking: parser codes, stack frames, file paths.
 */
export function badErrorBody(res: WireResponse): string | null {
  const text = res.body.toString('latin1')
  if (/HPE_|ERR_|\bat .+:\d+|\/work\/|node:internal|Error:/.test(text))
    return `internal detail leaked: ${text}`
  if (res.headers.get('content-type') !== 'application/json')
    return 'error without JSON content type'
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return `non-JSON error body ${JSON.stringify(text.slice(0, 80))}`
  }
  const o = body as Record<string, unknown>
  const keys = Object.keys(o).sort().join(',')
  if (keys !== 'error,request_id,status') return `unexpected error body keys ${keys}`
  if (o['status'] !== res.status) return `body status ${String(o['status'])} ≠ ${res.status}`
  if (typeof o['error'] !== 'string' || typeof o['request_id'] !== 'string')
    return 'bad error body types'
  return null
}
