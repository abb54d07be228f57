/**
 * Upgrade (WebSocket) requests: matched like any request, then tunnelled to a target chosen by
 * the route's balancer. After the upstream's 101 the two sockets are piped both ways; the
 * tunnel stays pinned to the snapshot that opened it, so reloads never cut it (SPEC §3).
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import type { Dispatcher } from 'undici'
import { ErrorCode, statusOf } from '../errors.ts'
import { normalizePath, type NormalizedTarget } from '../router/normalize-path.ts'
import type { CompiledHeaderOps, TargetRef } from '../snapshot/route-entry.ts'
import type { Snapshot } from '../snapshot/snapshot.ts'
import { pickSplit } from './actions/forward.ts'
import { sendRawError } from './error-response.ts'
import { buildResponseHeaders, buildUpstreamHeaders, newRequestId } from './forwarded-headers.ts'
import type { ProxyDeps } from './handle-request.ts'
import { hostnameOf, readRequestHead, type RequestHead } from './request-head.ts'
import type { RequestHeaderEdits } from './middleware.ts'
import { runUpgradeMiddleware } from './upgrade-middleware.ts'
import { rewritePath } from './rewrite.ts'
import { closeFrame, FrameBoundary, GOING_AWAY } from './ws-frames.ts'

/** Live tunnels, so a graceful stop can wait for or cut them. */
export interface TunnelRegistry {
  /**
   * `goAway` (WebSocket tunnels) ends the tunnel with a 1001 close frame each way when both
   * directions are between frames, and cuts it otherwise.
   */
  add(client: Socket, upstream: Duplex, goAway: (() => void) | null): void
}

export type UpgradeHandler = (req: IncomingMessage, socket: Socket, head: Buffer) => void

// Hop-by-hop headers that a 101 still must not carry (Connection and Upgrade it must carry).
const NOT_IN_101: ReadonlySet<string> = new Set([
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
])

/** Builds the `upgrade` event handler of one listener. */
export function createUpgradeHandler(
  deps: ProxyDeps,
  proto: 'http' | 'https',
  tunnels: TunnelRegistry,
): UpgradeHandler {
  const random = deps.random ?? Math.random
  const middleware = deps.middleware ?? []
  return (req, socket, head) => {
    const snapshot = deps.holder.acquire(req)
    if (snapshot === null) {
      sendRawError(socket, ErrorCode.NOT_READY, newRequestId())
      return
    }
    const line: TunnelLine = {
      method: req.method ?? 'GET',
      path: req.url ?? '',
      status: 0,
      route: null,
      upstream: null,
      target: null,
      request_id: null,
      client_ip: req.socket.remoteAddress ?? '',
    }
    const startMs = performance.now()
    const tally = snapshot.tally
    socket.once('close', () => {
      // One access-log line per upgrade request, written when the tunnel (or refusal) ends.
      const duration_ms = Math.round((performance.now() - startMs) * 1000) / 1000
      snapshot.logger.info({ ...line, bytes: socket.bytesWritten, duration_ms }, 'tunnel')
      tally?.record(line.status)
      snapshot.unpin()
    })
    socket.on('error', () => socket.destroy())
    try {
      const reqHead = readRequestHead(req)
      const target = typeof reqHead === 'string' ? null : normalizePath(req.url ?? '')
      if (typeof reqHead === 'string' || target === null) {
        const code = typeof reqHead === 'string' ? reqHead : ErrorCode.BAD_REQUEST
        refuse(socket, line, code, newRequestId())
        return
      }
      const requestId = reqHead.requestId ?? newRequestId()
      line.request_id = requestId
      const request: UpgradeRequest = { req, socket, head, reqHead, target, requestId }
      const tunnelCtx = { proto, random, tunnels, line }
      if (middleware.length === 0) {
        route(request, snapshot, tunnelCtx, null)
        return
      }
      runUpgradeMiddleware(
        {
          req,
          socket,
          method: line.method,
          path: target.path,
          query: target.query,
          host: target.authority === null ? reqHead.hostname : hostnameOf(target.authority),
          clientIp: line.client_ip,
          requestId,
          configVersion: snapshot.version,
          route: () => line.route,
        },
        middleware,
        {
          open: (edits) => route(request, snapshot, tunnelCtx, edits),
          answered: (status) => (line.status = status),
          onError: (err) => {
            deps.metrics.internalErrors.inc({ where: 'middleware' })
            snapshot.logger.error({ err, request_id: requestId }, 'a middleware failed')
          },
        },
      )
    } catch (err) {
      deps.metrics.internalErrors.inc({ where: 'upgrade' })
      snapshot.logger.error({ err }, 'internal error while opening a tunnel')
      sendRawError(socket, ErrorCode.INTERNAL, newRequestId())
    }
  }
}

interface TunnelContext {
  readonly proto: 'http' | 'https'
  readonly random: () => number
  readonly tunnels: TunnelRegistry
  readonly line: TunnelLine
}

/** The access-log fields of one upgrade request, filled in as it is routed and answered. */
interface TunnelLine {
  readonly method: string
  readonly path: string
  /** 101 once tunnelled, else the status of the refusal (the gateway's or the upstream's). */
  status: number
  route: string | null
  upstream: string | null
  target: string | null
  request_id: string | null
  readonly client_ip: string
}

/** Answers with the gateway's error for `code` and records its status in the log line. */
function refuse(socket: Socket, line: TunnelLine, code: ErrorCode, requestId: string): void {
  line.status = statusOf(code)
  line.request_id = requestId
  sendRawError(socket, code, requestId)
}

/** An upgrade request whose head and path passed the checks. */
interface UpgradeRequest {
  readonly req: IncomingMessage
  readonly socket: Socket
  readonly head: Buffer
  readonly reqHead: RequestHead
  readonly target: NormalizedTarget
  readonly requestId: string
}

function route(
  request: UpgradeRequest,
  snapshot: Snapshot,
  ctx: TunnelContext,
  edits: RequestHeaderEdits | null,
): void {
  const { req, socket, head, reqHead, target, requestId } = request
  const line = ctx.line
  const entry = snapshot.router.lookup({
    method: req.method ?? 'GET',
    host: target.authority === null ? reqHead.hostname : hostnameOf(target.authority),
    path: target.path,
    headers: req.headers,
  })
  const action = entry?.action
  if (entry === undefined || action === undefined) {
    refuse(socket, line, ErrorCode.ROUTE_NOT_FOUND, requestId)
    return
  }
  line.route = entry.name
  if (action.kind !== 'forward' && action.kind !== 'split') {
    refuse(socket, line, ErrorCode.BAD_REQUEST, requestId)
    return
  }
  const backend = action.kind === 'forward' ? action.backend : pickSplit(action, ctx.random)
  line.upstream = backend.upstream.name
  const picked = backend.upstream.balancer.pick({})
  if (picked === undefined) {
    refuse(socket, line, ErrorCode.NO_HEALTHY_TARGET, requestId)
    return
  }
  line.target = picked.key
  const rewrite = entry.rewrite
  const path = (rewrite === null ? target.path : rewritePath(target.path, rewrite)) + target.query
  const headers = buildUpstreamHeaders({
    rawHeaders: req.rawHeaders,
    head: reqHead,
    clientIp: req.socket.remoteAddress ?? '',
    proto: ctx.proto,
    requestId,
    hostHeader: entry.rewrite?.host ?? reqHead.host,
    ops: entry.requestHeaders,
  })
  edits?.applyTo(headers)
  const handler = new TunnelHandler(socket, head, picked, {
    line,
    tunnels: ctx.tunnels,
    responseHeaders: entry.responseHeaders,
    websocket: req.headers.upgrade?.toLowerCase() === 'websocket',
  })
  picked.pool.dispatch(
    {
      path,
      method: req.method ?? 'GET',
      headers,
      upgrade: req.headers.upgrade ?? 'websocket',
      headersTimeout: backend.timeouts.responseHeaderMs,
    },
    handler,
  )
}

class TunnelHandler implements Dispatcher.DispatchHandler {
  readonly #client: Socket
  readonly #head: Buffer
  readonly #line: TunnelLine
  readonly #target: TargetRef
  readonly #requestId: string
  readonly #tunnels: TunnelRegistry
  readonly #responseHeaders: CompiledHeaderOps | null
  readonly #websocket: boolean
  #abort: ((err?: Error) => void) | null = null
  /** The upstream answered with a non-101 response, which is being relayed. */
  #refused = false

  constructor(
    client: Socket,
    head: Buffer,
    target: TargetRef,
    opts: {
      readonly line: TunnelLine
      readonly tunnels: TunnelRegistry
      readonly responseHeaders: CompiledHeaderOps | null
      readonly websocket: boolean
    },
  ) {
    this.#client = client
    this.#head = head
    this.#target = target
    this.#line = opts.line
    this.#requestId = opts.line.request_id ?? ''
    this.#tunnels = opts.tunnels
    this.#responseHeaders = opts.responseHeaders
    this.#websocket = opts.websocket
    client.once('close', () => this.#abort?.())
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort
    if (this.#client.destroyed) abort()
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, upstream: Duplex): void {
    const client = this.#client
    let response = `HTTP/1.1 ${statusCode} Switching Protocols\r\n`
    const raw = rawHeaders ?? []
    for (let i = 0; i < raw.length; i += 2) {
      const name = String(raw[i])
      if (NOT_IN_101.has(name.toLowerCase()) || name.toLowerCase() === 'x-request-id') continue
      response += `${name}: ${String(raw[i + 1])}\r\n`
    }
    response += `x-request-id: ${this.#requestId}\r\n\r\n`
    this.#line.status = statusCode
    if (client.destroyed) {
      upstream.destroy()
      return
    }
    this.#target.state.inFlight++
    upstream.once('close', () => this.#target.state.inFlight--)
    client.write(response)
    if (this.#head.length > 0) upstream.write(this.#head)
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    client.on('close', () => upstream.destroy())
    upstream.pipe(client)
    client.pipe(upstream)
    this.#tunnels.add(
      client,
      upstream,
      this.#websocket ? goAway(client, upstream, this.#head) : null,
    )
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    // The upstream refused the upgrade (401, 403, 426, ...): relay its answer as nginx does, so
    // the client learns why. Answering our own 400 "malformed request" hid the origin's reason
    // and blamed a well-formed request. The connection closes after it (it was offered for a
    // tunnel), which also delimits the body when the upstream sent no Content-Length.
    const client = this.#client
    if (client.destroyed) {
      this.#abort?.()
      return false
    }
    this.#refused = true
    this.#line.status = statusCode
    const headers = buildResponseHeaders(rawHeaders, this.#requestId, this.#responseHeaders, true)
    let head = `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? 'Unknown'}\r\n`
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`
    client.write(head + '\r\n')
    return true
  }

  onData(chunk: Buffer): boolean {
    // A refusal body is small (an error page); no back-pressure needed.
    if (this.#refused && !this.#client.destroyed) this.#client.write(chunk)
    return true
  }

  onComplete(): void {
    if (this.#refused) this.#client.destroySoon()
  }

  onError(err: Error): void {
    if (this.#refused) {
      // The refusal's head is out: cutting the connection is the only signal left.
      this.#client.destroy()
      return
    }
    const code = (err as { code?: unknown }).code
    const mapped =
      code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT'
        ? ErrorCode.UPSTREAM_TIMEOUT
        : ErrorCode.UPSTREAM_CONNECT_FAILED
    if (!this.#client.destroyed) refuse(this.#client, this.#line, mapped, this.#requestId)
  }
}

/**
 * Follows the frame boundaries of a WebSocket tunnel both ways (the bytes seen here are exactly
 * the bytes relayed, chunk for chunk) and returns what ends it with 1001 "going away".
 */
function goAway(client: Socket, upstream: Duplex, head: Buffer): () => void {
  const toClient = new FrameBoundary()
  const toUpstream = new FrameBoundary()
  toUpstream.feed(head)
  upstream.on('data', (chunk: Buffer) => toClient.feed(chunk))
  client.on('data', (chunk: Buffer) => toUpstream.feed(chunk))
  return () => {
    if (!toClient.atBoundary || !toUpstream.atBoundary) {
      // Mid-frame: a frame of ours would corrupt the stream; only a cut is left.
      client.destroy()
      return
    }
    upstream.unpipe(client)
    client.unpipe(upstream)
    client.end(closeFrame(GOING_AWAY, false))
    upstream.end(closeFrame(GOING_AWAY, true))
  }
}
