/**
 * A real HTTP origin for tests, on 127.0.0.1 port 0, that records every request it receives
 * (method, url, raw headers, body bytes) and answers with a handler the test chooses.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface RecordedRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage['headers']
  readonly rawHeaders: readonly string[]
  readonly body: Buffer
}

export type OriginHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
) => void | Promise<void>

export interface FakeUpstream {
  readonly url: string
  readonly port: number
  readonly server: http.Server
  readonly requests: RecordedRequest[]
  /** Sockets accepted so far (to check connection reuse). */
  readonly connections: number
  setHandler(handler: OriginHandler): void
  close(): Promise<void>
}

/** Default answer: 200 JSON echo of what was received. */
export const echoHandler: OriginHandler = (req, res, body) => {
  res.setHeader('content-type', 'application/json')
  res.end(
    JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bytes: body.length }),
  )
}

export interface FakeUpstreamOptions {
  /** Do not buffer the body before calling the handler (streaming tests read it themselves). */
  readonly streaming?: boolean
  readonly handler?: OriginHandler
  readonly name?: string
}

export async function startFakeUpstream(opts: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  let handler = opts.handler ?? echoHandler
  const requests: RecordedRequest[] = []
  const sockets = new Set<Socket>()
  let connections = 0
  const server = http.createServer((req, res) => {
    const record = (body: Buffer): void => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
      })
    }
    if (opts.streaming === true) {
      record(Buffer.alloc(0))
      void Promise.resolve(handler(req, res, Buffer.alloc(0))).catch(() => res.destroy())
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      record(body)
      void Promise.resolve(handler(req, res, body)).catch(() => res.destroy())
    })
  })
  server.keepAliveTimeout = 5000
  server.on('connection', (s: Socket) => {
    connections++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    requests,
    get connections() {
      return connections
    },
    setHandler(h) {
      handler = h
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
