/**
 * Minimal test clients: one HTTP request on a fresh connection (no shared agent, so nothing
 * lingers between tests) and a raw-socket exchange for malformed or hand-framed requests.
 */
import http, { type IncomingHttpHeaders } from 'node:http'
import net from 'node:net'

export interface Reply {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly rawHeaders: readonly string[]
  readonly body: Buffer
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read JSON bodies field by field
  json<T = any>(): T
  text(): string
}

export interface RequestOptions {
  readonly method?: string
  readonly headers?: Record<string, string | string[]>
  readonly body?: string | Buffer
  readonly agent?: http.Agent | false
  readonly timeoutMs?: number
}

export async function request(url: string, opts: RequestOptions = {}): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => {
          const body = Buffer.concat(chunks)
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body,
            json: <T>() => JSON.parse(body.toString('utf8')) as T,
            text: () => body.toString('utf8'),
          })
        })
      },
    )
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error('test request timed out')))
    req.on('error', reject)
    req.end(opts.body)
  })
}

/**
 * Writes `raw` (latin1) on a new connection and collects everything until the server closes
 * the connection or `idleMs` pass without data.
 */
export async function rawExchange(
  port: number,
  raw: string | Buffer,
  opts: { idleMs?: number; endAfterWrite?: boolean } = {},
): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    let closedByServer = false
    const idle = opts.idleMs ?? 1000
    socket.setTimeout(idle, () => socket.destroy())
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => (text += d))
    socket.on('end', () => (closedByServer = true))
    socket.on('error', () => undefined)
    socket.on('close', () => resolve({ text, closedByServer }))
    socket.write(typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw)
    if (opts.endAfterWrite === true) socket.end()
  })
}

/** The status code of the first response in a raw exchange (0 if none). */
export function statusOf(text: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text)
  return m === null ? 0 : Number(m[1])
}

/** True when a connection to 127.0.0.1:`port` is refused (nothing listens there any more). */
export async function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', (err: Error & { code?: string }) => resolve(err.code === 'ECONNREFUSED'))
  })
}
