/**
 * THE entry of the data plane: (req, res) → pin snapshot → check head → normalise path →
 * route → action → respond; then one access-log line, metrics, and the snapshot unpinned.
 * Never throws and never lets a rejection escape: every failure becomes an error response
 * written by error-response.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ErrorCode, GatewayError } from '../errors.ts'
import type { GatewayMetrics } from '../metrics/metrics.ts'
import type { Logger } from '../log/logger.ts'
import { normalizePath } from '../router/normalize-path.ts'
import type { SnapshotHolder } from '../snapshot/holder.ts'
import type { Snapshot } from '../snapshot/snapshot.ts'
import { forward, pickSplit, type ForwardContext } from './actions/forward.ts'
import { redirect, respond, writeWhole } from './actions/respond.ts'
import { prepareError, sendError } from './error-response.ts'
import type { Middleware } from './middleware.ts'
import { runMiddleware, type MiddlewareDeps } from './run-middleware.ts'
import { Exchange } from './exchange.ts'
import { newRequestId } from './forwarded-headers.ts'
import { hostnameOf, readRequestHead } from './request-head.ts'

export interface ProxyDeps {
  readonly holder: SnapshotHolder
  readonly metrics: GatewayMetrics
  /** Used when a failure happens before a snapshot is pinned. */
  readonly logger: Logger
  /** True once a graceful stop began: responses then carry `Connection: close`. */
  readonly isDraining: () => boolean
  readonly random?: () => number
  /** The library's middleware (`gateway.use`), run around routing; empty: none. */
  readonly middleware?: readonly Middleware[]
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void

/** Builds the request handler of one listener (`proto` feeds X-Forwarded-Proto). */
export function createRequestHandler(
  deps: ProxyDeps,
  proto: 'http' | 'https',
): { handle: RequestHandler; handleExpectContinue: RequestHandler } {
  const ctx: ForwardContext = {
    proto,
    isDraining: deps.isDraining,
    random: deps.random ?? Math.random,
    fail: (ex, code, close) => {
      ex.status = sendErrorOf(ex, code, close === true)
    },
  }
  const middleware = deps.middleware ?? []
  const routeIt = (ex: Exchange): void => dispatch(ex, ctx)
  const middlewareDeps: MiddlewareDeps = {
    isDraining: deps.isDraining,
    onError: (ex, err) => {
      deps.metrics.internalErrors.inc({ where: 'middleware' })
      ex.snapshot.logger.error({ err, request_id: ex.requestId }, 'a middleware failed')
    },
  }
  const run = (req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void => {
    const snapshot = deps.holder.acquire(req)
    if (snapshot === null) {
      sendError(res, ErrorCode.NOT_READY, newRequestId(), { close: true })
      return
    }
    deps.metrics.requestStarted()
    let ex: Exchange | null = null
    try {
      ex = start(req, res, snapshot, expectContinue, deps)
      if (ex !== null) {
        if (middleware.length === 0) dispatch(ex, ctx)
        else runMiddleware(ex, middleware, routeIt, middlewareDeps)
      }
    } catch (err) {
      // A bug, not a request problem: count it, log it, answer 500 without details.
      deps.metrics.internalErrors.inc({ where: 'handle-request' })
      snapshot.logger.error({ err }, 'internal error while handling a request')
      if (ex !== null) ctx.fail(ex, ErrorCode.INTERNAL, true)
      else if (!res.headersSent) sendError(res, ErrorCode.INTERNAL, newRequestId(), { close: true })
    }
  }
  return {
    handle: (req, res) => run(req, res, false),
    handleExpectContinue: (req, res) => run(req, res, true),
  }
}

/** Reads the head and path; answers 400/505 itself and returns null then. */
function start(
  req: IncomingMessage,
  res: ServerResponse,
  snapshot: Snapshot,
  expectContinue: boolean,
  deps: ProxyDeps,
): Exchange | null {
  const head = readRequestHead(req)
  const target = typeof head === 'string' ? null : normalizePath(req.url ?? '')
  const requestId = (typeof head !== 'string' && head.requestId) || newRequestId()
  if (typeof head === 'string' || target === null) {
    const code = typeof head === 'string' ? head : ErrorCode.BAD_REQUEST
    const tally = snapshot.tally
    res.on('close', () => {
      deps.metrics.requestEnded()
      snapshot.logger.info(
        { method: req.method, status: res.statusCode, request_id: requestId, error: code },
        'request refused',
      )
      tally?.record(res.statusCode)
      snapshot.unpin()
    })
    sendError(res, code, requestId, { close: true })
    return null
  }
  const ex = new Exchange({
    req,
    res,
    snapshot,
    requestId,
    head,
    host: target.authority === null ? head.hostname : hostnameOf(target.authority),
    path: target.path,
    query: target.query,
    expectContinue,
  })
  res.on('close', () => finish(ex, deps))
  return ex
}

function dispatch(ex: Exchange, ctx: ForwardContext): void {
  const route = ex.snapshot.router.lookup(ex)
  if (route === undefined) {
    ctx.fail(ex, ErrorCode.ROUTE_NOT_FOUND, ex.head.hasBody)
    return
  }
  ex.route = route
  if (ex.head.contentLength > route.maxBodyBytes) {
    // Refused before any 100 Continue and before reading a byte of the body.
    ctx.fail(ex, ErrorCode.BODY_TOO_LARGE, true)
    return
  }
  const close = ctx.isDraining()
  const action = route.action
  switch (action.kind) {
    case 'forward':
      forward(ex, action.backend, ctx)
      return
    case 'split':
      forward(ex, pickSplit(action, ctx.random), ctx)
      return
    case 'respond':
      respond(ex, action, close || ex.head.hasBody)
      return
    case 'redirect':
      redirect(ex, action, close || ex.head.hasBody)
      return
  }
}

function sendErrorOf(ex: Exchange, code: ErrorCode, close: boolean): number {
  const res = ex.res
  if (res.headersSent) {
    res.destroy()
    return ex.status
  }
  const error = prepareError(res, code, ex.requestId, { close: close || ex.head.hasBody })
  if (error === null) return ex.status
  writeWhole(ex, error.status, error.headers, error.body)
  return error.status
}

/** Runs once per exchange, when the response is done or the connection is gone. */
function finish(ex: Exchange, deps: ProxyDeps): void {
  const res = ex.res
  if (!res.writableFinished) {
    // The client went away (or we cut the response): stop the upstream side too.
    if (ex.status === 0 || !res.headersSent) ex.status = 499
    ex.aborted = true
    if (ex.attempt !== null) ex.bytes = ex.attempt.bytes
    ex.attempt?.abort(new GatewayError(ErrorCode.CLIENT_ABORTED, 'client went away'))
    // A middleware waiting in `next()` gets it back; nothing held will be written.
    ex.gate?.drop()
  }
  const durationS = (performance.now() - ex.startMs) / 1000
  ex.recorder?.record(ex.method, ex.status, durationS)
  deps.metrics.requestEnded()
  ex.snapshot.logger.info(
    {
      method: ex.method,
      path: ex.path,
      status: ex.status,
      bytes: ex.bytes,
      duration_ms: Math.round(durationS * 1e6) / 1e3,
      route: ex.route?.name ?? null,
      upstream: ex.upstream === '' ? null : ex.upstream,
      target: ex.target === '' ? null : ex.target,
      request_id: ex.requestId,
      client_ip: ex.clientIp,
    },
    'request',
  )
  ex.tally?.record(ex.status)
  ex.snapshot.unpin()
}
