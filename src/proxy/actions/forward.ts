/**
 * The forward action: pick a target, run one attempt, and on failure ask the retry policy
 * whether to try another target (Caddy's proxy loop). `split` picks a backend by weight and
 * then forwards the same way.
 */
import type { Socket } from 'node:net'
import { ErrorCode, type GatewayError, UpstreamError } from '../../errors.ts'
import type { HashKey } from '../../config/types.ts'
import type { Backend, CompiledAction, TargetRef } from '../../snapshot/route-entry.ts'
import { Attempt, type AttemptOutcome } from '../attempt.ts'
import type { Exchange } from '../exchange.ts'
import { buildUpstreamHeaders } from '../forwarded-headers.ts'
import { REPLAY_BUFFER_BYTES, RequestBody } from '../replay-buffer.ts'
import { mayRetry } from '../retry-policy.ts'
import { rewritePath } from '../rewrite.ts'
import { cookieValue } from '../../util/cookie.ts'

/** What forwarding needs from the listener and process around it. */
export interface ForwardContext {
  readonly proto: 'http' | 'https'
  readonly isDraining: () => boolean
  readonly random: () => number
  /** Ends the exchange with an error response (the single error writer). */
  readonly fail: (ex: Exchange, code: ErrorCode, close?: boolean) => void
}

type SplitAction = Extract<CompiledAction, { kind: 'split' }>

/** Chooses a split backend by weight. */
export function pickSplit(action: SplitAction, random: () => number): Backend {
  const r = random() * action.total
  for (const choice of action.backends) if (r < choice.bound) return choice.backend
  return (action.backends[action.backends.length - 1] as SplitAction['backends'][number]).backend
}

/** Forwards the exchange to `backend`, retrying on other targets as the route allows. */
export function forward(ex: Exchange, backend: Backend, ctx: ForwardContext): void {
  const route = ex.route
  if (route === null) return
  ex.recorder = backend.recorder
  ex.upstream = backend.upstream.name
  const rewrite = route.rewrite
  const path = rewrite === null ? ex.path : rewritePath(ex.path, rewrite)
  const headers = buildUpstreamHeaders({
    rawHeaders: ex.req.rawHeaders,
    head: ex.head,
    clientIp: ex.clientIp,
    proto: ctx.proto,
    requestId: ex.requestId,
    hostHeader: rewrite?.host ?? ex.head.host,
    ops: route.requestHeaders,
  })
  ex.requestEdits?.applyTo(headers)
  const run = new ForwardRun(ex, backend, ctx, path + ex.query, headers)
  if (!ex.head.hasBody) {
    run.next(null)
    return
  }
  const body = new RequestBody(ex.req, route.maxBodyBytes)
  ex.body = body
  const length = ex.head.contentLength
  if (length > 0 && length <= REPLAY_BUFFER_BYTES) {
    sendContinue(ex)
    body.readAll((err) => {
      if (ex.aborted) return
      if (err === null) run.next(null)
      else ctx.fail(ex, (err as GatewayError).code, true)
    })
    return
  }
  run.next(null)
}

/** Tells a client waiting on `Expect: 100-continue` to send its body (once). */
function sendContinue(ex: Exchange): void {
  if (!ex.expectContinue || ex.continueSent) return
  ex.continueSent = true
  const res = ex.res
  if (res.socket !== null) {
    res.writeContinue()
    return
  }
  // A pipelined request's response waits in a queue without a socket, and Node puts a queued
  // response's head in front of anything buffered, 100 included. So the 100 goes straight to
  // the socket when it is handed over, before Node flushes the buffered final response.
  res.once('socket', (socket: Socket) => {
    if (!socket.destroyed) socket.write(CONTINUE)
  })
}

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n'

class ForwardRun {
  readonly #ex: Exchange
  readonly #backend: Backend
  readonly #ctx: ForwardContext
  readonly #path: string
  readonly #headers: string[]
  readonly #tried: TargetRef[] = []
  readonly #hashKey: string | undefined

  constructor(
    ex: Exchange,
    backend: Backend,
    ctx: ForwardContext,
    path: string,
    headers: string[],
  ) {
    this.#ex = ex
    this.#backend = backend
    this.#ctx = ctx
    this.#path = path
    this.#headers = headers
    const key = backend.upstream.hashKey
    this.#hashKey = key === null ? undefined : hashKeyOf(ex, key)
  }

  /** Starts the next attempt, or ends the exchange with `lastError` when none can be made. */
  next(lastError: GatewayError | null): void {
    const ex = this.#ex
    if (ex.aborted) return
    const target = this.#backend.upstream.balancer.pick({
      hashKey: this.#hashKey,
      exclude: this.#tried,
    })
    if (target === undefined) {
      this.#ctx.fail(ex, lastError?.code ?? ErrorCode.NO_HEALTHY_TARGET)
      return
    }
    this.#tried.push(target)
    ex.target = target.key
    sendContinue(ex)
    const attempt = new Attempt(
      target,
      this.#backend,
      ex.res,
      {
        method: ex.method,
        path: this.#path,
        headers: this.#headers,
        body: ex.body === null ? null : (ex.body.whole ?? ex.body.stream()),
        requestId: ex.requestId,
        responseHeaders: ex.route?.responseHeaders ?? null,
        close: this.#ctx.isDraining,
        retryOnStatus: (status) => this.#canRetry('request-sent', [String(status)]),
        gate: ex.gate,
      },
      (outcome) => this.#onOutcome(attempt, outcome),
    )
    ex.attempt = attempt
    attempt.start()
  }

  #onOutcome(attempt: Attempt, outcome: AttemptOutcome): void {
    const ex = this.#ex
    ex.attempt = null
    const outlier = this.#backend.upstream.outlier
    if (outlier !== null) {
      const failed = failedByTarget(ex, attempt, outcome)
      if (failed !== null) outlier.record(attempt.target.state, failed)
    }
    switch (outcome.kind) {
      case 'complete':
        // A middleware may have changed the status the client got.
        ex.status = ex.gate === null ? attempt.status : ex.res.statusCode
        ex.bytes = attempt.bytes
        ex.body?.discardRest(() => closeAfterResponse(ex))
        return
      case 'retry-status':
        this.next(null)
        return
      case 'error':
        this.#onError(outcome.error, outcome.responseStarted, attempt)
        return
    }
  }

  #onError(error: GatewayError, responseStarted: boolean, attempt: Attempt): void {
    const ex = this.#ex
    // The client is gone: finish() already recorded 499 and nothing more can be sent.
    if (ex.aborted) return
    if (responseStarted) {
      // Headers are out: the only honest signal left is cutting the response short.
      ex.status = attempt.status
      ex.bytes = attempt.bytes
      ex.res.destroy()
      return
    }
    ex.body?.detach()
    const bodyFailure = ex.body?.failure
    if (bodyFailure !== null && bodyFailure !== undefined) {
      const code = (bodyFailure as GatewayError).code
      this.#ctx.fail(ex, code, true)
      return
    }
    if (error instanceof UpstreamError && this.#canRetry(error.phase, conditionsOf(error))) {
      this.next(error)
      return
    }
    this.#ctx.fail(ex, error.code, ex.body !== null)
  }

  #canRetry(phase: UpstreamError['phase'], conditions: readonly string[]): boolean {
    const ex = this.#ex
    const retries = ex.route?.retries
    if (retries === undefined || ex.aborted) return false
    return mayRetry({
      retries,
      attemptsMade: this.#tried.length,
      method: ex.method,
      phase,
      conditions,
      bodyReplayable: ex.body === null || ex.body.replayable,
    })
  }
}

/**
 * Closes the client connection once the response is flushed (FIN, not a reset, so the client
 * still reads it): the request body left on the connection can no longer be skipped.
 */
function closeAfterResponse(ex: Exchange): void {
  const socket = ex.req.socket
  if (ex.res.writableFinished) socket.destroySoon()
  else ex.res.once('finish', () => socket.destroySoon())
}

/**
 * Whether the target is to blame for how an attempt ended (for outlier detection): true for a
 * 5xx or a connection or protocol failure on its side, false for an answer below 500, null when
 * the attempt says nothing about the target (the client went away, or its body failed).
 */
function failedByTarget(ex: Exchange, attempt: Attempt, outcome: AttemptOutcome): boolean | null {
  if (ex.aborted) return null
  if (outcome.kind === 'retry-status') return true
  if (outcome.kind === 'complete') return attempt.status >= 500
  const bodyFailure = ex.body?.failure
  if (bodyFailure !== null && bodyFailure !== undefined) return null
  return outcome.error instanceof UpstreamError ? true : null
}

/** A connect timeout also counts as a connect failure and as a timeout. */
function conditionsOf(error: UpstreamError): readonly string[] {
  if (error.condition === 'connect-timeout')
    return ['connect-timeout', 'connect-failure', 'timeout']
  return [error.condition]
}

function hashKeyOf(ex: Exchange, key: HashKey): string | undefined {
  switch (key.kind) {
    case 'client-ip':
      return ex.clientIp
    case 'path':
      return ex.path
    case 'header': {
      const value = ex.req.headers[key.name]
      return Array.isArray(value) ? value[0] : value
    }
    case 'cookie':
      return cookieValue(ex.req.headers.cookie, key.name)
  }
}
