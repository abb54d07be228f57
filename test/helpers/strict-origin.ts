/**
 * A strict recording origin on raw `net` sockets (not node:http, so it sees the exact bytes a
 * proxy sent). Every request is parsed by the strict parser in `origin` mode; valid ones are
 * recorded and answered with a small fixed 200 (101 and an immediate close for upgrades),
 * anything else is recorded as a violation and answered 400 with the connection closed. Tests
 * assert that `violations` stays empty.
 */
import net, { type AddressInfo, type Socket } from 'node:net'
import { fieldOf, parseRequest, type StrictRequest } from './strict-http.ts'

export interface Violation {
  readonly reason: string
  /** The bytes received on the connection from the start of the offending request (latin1). */
  readonly raw: string
}

export interface StrictOrigin {
  readonly url: string
  readonly port: number
  /** Every complete, valid request received, in arrival order. */
  readonly requests: StrictRequest[]
  readonly violations: Violation[]
  /** Tolerated departures from the RFC seen in valid requests (see StrictRequest.deviations). */
  readonly deviations: string[]
  /** Connections that closed in the middle of a request (the proxy aborted it). */
  readonly truncated: number
  /** Open connections holding part of a request (a proxy still sending, or stuck). */
  readonly partial: number
  readonly connections: number
  /**
   * Record requests but keep their answers until `release()` (to hold a response in flight);
   * with `which`, only the answers to the requests it picks are kept.
   */
  hold(which?: (req: StrictRequest) => boolean): void
  /** Sends the answers kept since `hold()` and answers at once again. */
  release(): void
  /** Forget what was recorded so far (answers still held are sent first). */
  reset(): void
  close(): Promise<void>
}

export interface StrictOriginOptions {
  /** Lower-case header names that must never arrive (e.g. ones the client named in Connection). */
  readonly forbiddenHeaders?: readonly string[]
}

const BODY = 'ok'

export async function startStrictOrigin(opts: StrictOriginOptions = {}): Promise<StrictOrigin> {
  const requests: StrictRequest[] = []
  const violations: Violation[] = []
  const deviations: string[] = []
  const buffers = new Map<Socket, Buffer>()
  const forbiddenHeaders = new Set(opts.forbiddenHeaders ?? [])
  let held: (() => void)[] | null = null
  let holds: (req: StrictRequest) => boolean = () => true
  let truncated = 0
  let connections = 0

  const onConnection = (socket: Socket): void => {
    connections++
    buffers.set(socket, Buffer.alloc(0))
    let done = false
    socket.on('error', () => undefined)
    socket.on('close', () => {
      if (!done && (buffers.get(socket)?.length ?? 0) > 0) truncated++
      buffers.delete(socket)
    })
    socket.on('data', (chunk: Buffer) => {
      if (done) return
      const before = buffers.get(socket) ?? Buffer.alloc(0)
      let buf = before.length === 0 ? chunk : Buffer.concat([before, chunk])
      while (!done && buf.length > 0) {
        const r = parseRequest(buf, 0, { mode: 'origin', forbiddenHeaders })
        if (r.kind === 'incomplete') break
        if (r.kind === 'invalid') {
          done = true
          violations.push({ reason: r.reason, raw: buf.toString('latin1') })
          socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
          break
        }
        const request = { ...r.request, raw: Buffer.from(r.request.raw) }
        requests.push(request)
        deviations.push(...request.deviations)
        buf = buf.subarray(r.end)
        done = finishesConnection(request)
        if (held !== null && holds(request)) held.push(() => answer(socket, request))
        else answer(socket, request)
      }
      buffers.set(socket, done ? Buffer.alloc(0) : buf)
    })
  }

  const release = (): void => {
    const answers = held ?? []
    held = null
    for (const send of answers) send()
  }

  const server = net.createServer(onConnection)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    violations,
    deviations,
    get truncated() {
      return truncated
    },
    get partial() {
      let n = 0
      for (const buf of buffers.values()) if (buf.length > 0) n++
      return n
    },
    get connections() {
      return connections
    },
    hold(which = () => true) {
      held ??= []
      holds = which
    },
    release,
    reset() {
      release()
      requests.length = 0
      violations.length = 0
      deviations.length = 0
      truncated = 0
    },
    async close() {
      for (const s of buffers.keys()) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** True when the connection is finished with after this request (close or upgrade). */
function finishesConnection(req: StrictRequest): boolean {
  return req.upgrade || (fieldOf(req, 'connection') ?? '').toLowerCase().includes('close')
}

/** Writes the fixed answer to `req`, closing the connection when the request asked for it. */
function answer(socket: Socket, req: StrictRequest): void {
  if (req.upgrade) {
    // Accept the upgrade, then end the tunnel at once: what follows is not HTTP any more.
    socket.end(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: ${fieldOf(req, 'upgrade') ?? ''}\r\n` +
        'connection: Upgrade\r\n\r\n',
    )
    return
  }
  const close = finishesConnection(req)
  const head =
    'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n' +
    `content-length: ${BODY.length}\r\n${close ? 'connection: close\r\n' : ''}\r\n`
  const out = req.method === 'HEAD' ? head : head + BODY
  if (close) socket.end(out)
  else socket.write(out)
}
