/**
 * One upstream attempt through undici's dispatch API: the request streams up from the client
 * (or the replay buffer), the response streams back with back-pressure both ways. Failures
 * become UpstreamError values carrying the phase they happened in; the caller (forward.ts)
 * decides about retries. Uses undici 7's raw handler callbacks, which hand over raw header
 * Buffers without the per-response header parsing of the newer controller API.
 */
import type { Dispatcher } from 'undici'
import { ErrorCode, GatewayError, UpstreamError, type AttemptPhase } from '../errors.ts'
import type { Backend, CompiledHeaderOps, TargetRef } from '../snapshot/route-entry.ts'
import type { Readable } from 'node:stream'
import type { ServerResponse } from 'node:http'
import { buildResponseHeaders } from './forwarded-headers.ts'
import type { ResponseGate } from './middleware.ts'

export type AttemptOutcome =
  | { readonly kind: 'complete' }
  /** The response had a status listed for retries and was discarded (not sent to the client). */
  | { readonly kind: 'retry-status'; readonly status: number }
  | { readonly kind: 'error'; readonly error: GatewayError; readonly responseStarted: boolean }

export interface AttemptRequest {
  readonly method: string
  /** Path and query as sent upstream. */
  readonly path: string
  readonly headers: string[]
  /** A whole small body (sent with the head in one write), a stream, or none. */
  readonly body: Buffer | Readable | null
  readonly requestId: string
  readonly responseHeaders: CompiledHeaderOps | null
  /** Add `Connection: close` to the client response (draining). */
  readonly close: () => boolean
  /** Should a response with this status be discarded and retried? Asked before relaying it. */
  readonly retryOnStatus: (status: number) => boolean
  /** With middleware: the head waits here, and the body with it, until the chain unwinds. */
  readonly gate: ResponseGate | null
}

/** Response bytes that may wait for a slow client before the upstream is paused. */
const RESPONSE_SLACK_BYTES = 64 * 1024

// Errors raised while connecting: nothing reached the target, so any request may be retried.
const CONNECT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
])

export class Attempt implements Dispatcher.DispatchHandler {
  readonly target: TargetRef
  readonly #backend: Backend
  readonly #res: ServerResponse
  readonly #req: AttemptRequest
  readonly #done: (outcome: AttemptOutcome) => void
  readonly #startMs = performance.now()
  /** The client drained: let undici read from the upstream socket again. */
  readonly #onDrain = (): void => this.#resume?.()
  #abort: ((err?: Error) => void) | null = null
  #resume: (() => void) | null = null
  #discard = false
  #headersReceived = false
  #finished = false
  /** Response body bytes relayed to the client. */
  bytes = 0
  status = 0
  /** From dispatch to the response headers, in ms (set when they arrive). */
  headersMs = 0
  /** Body chunks waiting for the middleware chain to unwind (null: not waiting). */
  #held: Buffer[] | null = null
  #heldBytes = 0
  #heldPaused = false
  #heldComplete = false

  constructor(
    target: TargetRef,
    backend: Backend,
    res: ServerResponse,
    req: AttemptRequest,
    done: (outcome: AttemptOutcome) => void,
  ) {
    this.target = target
    this.#backend = backend
    this.#res = res
    this.#req = req
    this.#done = done
  }

  /** The upstream's name in the config (for middleware, see ResponseGate). */
  get upstreamName(): string {
    return this.#backend.upstream.name
  }

  /** Sends the request; the outcome arrives through `done`, exactly once. */
  start(): void {
    const timeouts = this.#backend.timeouts
    this.target.state.inFlight++
    this.target.pool.dispatch(
      {
        path: this.#req.path,
        method: this.#req.method,
        headers: this.#req.headers,
        body: this.#req.body,
        headersTimeout: timeouts.responseHeaderMs,
        bodyTimeout: timeouts.idleMs,
      },
      this,
    )
  }

  /** Cuts the attempt (client went away, drain deadline). */
  abort(reason: GatewayError): void {
    if (this.#finished) return
    if (this.#abort !== null && !this.#heldComplete) this.#abort(reason)
    else this.#finish({ kind: 'error', error: reason, responseStarted: this.#headersReceived })
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.#headersReceived = true
    this.status = status
    this.headersMs = performance.now() - this.#startMs
    this.#backend.recorder.recordUpstream(this.headersMs / 1000)
    if (this.#req.retryOnStatus(status)) {
      // Read and drop the body so the upstream connection stays reusable.
      this.#discard = true
      return true
    }
    this.#resume = resume
    const headers = buildResponseHeaders(
      rawHeaders,
      this.#req.requestId,
      this.#req.responseHeaders,
      this.#req.close(),
    )
    const gate = this.#req.gate
    if (gate !== null) {
      // The (edited) head goes out when the middleware chain has unwound; until then the body
      // waits here (see onData).
      this.#held = []
      if (gate.hold(status, headers, (s, h) => this.#release(s, h), this)) return true
      // The chain dropped the gate (the client went away, a middleware failed): nothing is sent.
      this.#held = null
      this.#discard = true
      return true
    }
    try {
      this.#res.writeHead(status, headers)
    } catch (cause) {
      this.#discard = true
      this.#abort?.(this.#error(ErrorCode.UPSTREAM_BAD_RESPONSE, 'response-headers', cause))
    }
    return true
  }

  /**
   * The middleware chain has unwound: head, then what waited, then the rest as usual. A head a
   * middleware made invalid throws here, before anything is written (the chain's runner answers
   * 500 and aborts this attempt).
   */
  #release(status: number, headers: string[]): void {
    const held = this.#held ?? []
    this.#held = null
    const res = this.#res
    res.writeHead(status, headers)
    for (const chunk of held) res.write(chunk)
    if (this.#heldComplete) {
      res.end()
      this.#finish({ kind: 'complete' })
    } else if (this.#heldPaused) {
      this.#heldPaused = false
      this.#resume?.()
    }
  }

  onData(chunk: Buffer): boolean {
    if (this.#discard) return true
    this.bytes += chunk.length
    const held = this.#held
    if (held !== null) {
      // Waiting for the middleware chain: keep up to RESPONSE_SLACK_BYTES, then pause.
      held.push(chunk)
      this.#heldBytes += chunk.length
      if (this.#heldBytes < RESPONSE_SLACK_BYTES) return true
      this.#heldPaused = true
      return false
    }
    const res = this.#res
    // Back-pressure with some slack: pausing undici each time a 16 KiB chunk fills the
    // response's 16 KiB buffer cost 10-60 ms p99 stalls (bench/RESULTS.md) for no memory gain;
    // the upstream is paused once 64 KiB wait for the client, which still bounds each response.
    if (res.write(chunk) || res.writableLength < RESPONSE_SLACK_BYTES) return true
    res.once('drain', this.#onDrain)
    return false
  }

  onComplete(): void {
    if (this.#discard) {
      this.#finish({ kind: 'retry-status', status: this.status })
      return
    }
    if (this.#held !== null) {
      // Ends when the middleware chain has unwound and the head is out (#release).
      this.#heldComplete = true
      return
    }
    this.#res.end()
    this.#finish({ kind: 'complete' })
  }

  onError(err: Error): void {
    const error = err instanceof GatewayError ? err : this.#classify(err)
    // A head still held for the middleware chain was not sent: an error response can replace it.
    const responseStarted = this.#headersReceived && !this.#discard && this.#held === null
    this.#finish({ kind: 'error', error, responseStarted })
  }

  #finish(outcome: AttemptOutcome): void {
    if (this.#finished) return
    this.#finished = true
    this.target.state.inFlight--
    this.#res.removeListener('drain', this.#onDrain)
    this.#done(outcome)
  }

  #classify(err: Error): UpstreamError {
    const code = (err as { code?: unknown }).code
    if (code === 'UND_ERR_CONNECT_TIMEOUT') {
      return this.#error(ErrorCode.UPSTREAM_TIMEOUT, 'connect', err, 'connect-timeout')
    }
    if (typeof code === 'string' && CONNECT_CODES.has(code)) {
      return this.#error(ErrorCode.UPSTREAM_CONNECT_FAILED, 'connect', err, 'connect-failure')
    }
    const phase: AttemptPhase = this.#headersReceived ? 'response-body' : 'request-sent'
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return this.#error(ErrorCode.UPSTREAM_TIMEOUT, phase, err, 'timeout')
    }
    if (this.#headersReceived) return this.#error(ErrorCode.UPSTREAM_BODY_ABORTED, phase, err)
    if (code === 'HPE_INVALID_CONSTANT' || (typeof code === 'string' && code.startsWith('HPE_'))) {
      return this.#error(ErrorCode.UPSTREAM_BAD_RESPONSE, phase, err, 'bad-response')
    }
    return this.#error(ErrorCode.UPSTREAM_RESET, phase, err, 'reset')
  }

  #error(code: ErrorCode, phase: AttemptPhase, cause: unknown, condition = ''): UpstreamError {
    return new UpstreamError(code, `upstream ${this.target.key}: ${code}`, {
      phase,
      target: this.target.key,
      condition,
      cause,
    })
  }
}
