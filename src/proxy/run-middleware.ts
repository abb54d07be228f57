/**
 * One request through the middleware chain (see middleware.ts): builds its Context, runs the
 * chain around `dispatch` (routing and the route's action), then writes what the chain decided:
 * the held head as middleware left it, a middleware's own answer, or a 500 for one that threw.
 */
import { ErrorCode, GatewayError } from '../errors.ts'
import { sendError } from './error-response.ts'
import type { Exchange } from './exchange.ts'
import {
  BaseContext,
  ResponseGate,
  runChain,
  type Middleware,
  type ResponseHead,
  type UpstreamInfo,
} from './middleware.ts'

class ExchangeContext extends BaseContext {
  readonly #ex: Exchange
  readonly #gate: ResponseGate
  readonly #deps: MiddlewareDeps

  constructor(ex: Exchange, gate: ResponseGate, deps: MiddlewareDeps) {
    super(ex)
    this.#ex = ex
    this.#gate = gate
    this.#deps = deps
  }

  get response(): ResponseHead | null {
    return this.#gate.head
  }
  get route(): string | null {
    return this.#ex.route?.name ?? null
  }
  get upstream(): UpstreamInfo | null {
    return this.#gate.upstream
  }

  /** `next()` at the end of the chain: routing and the route's action; back at the head. */
  terminal(dispatch: (ex: Exchange) => void): Promise<void> {
    if (this.answered) return Promise.reject(new Error('next() after ctx.respond()'))
    this.nextCalled = true
    this.#ex.requestEdits = this.edits
    dispatch(this.#ex)
    return this.#gate.held()
  }

  /** The chain has unwound. */
  unwound(): void {
    unwound(this.#ex, this, this.#gate, this.#deps)
  }

  failed(err: unknown): void {
    failed(this.#ex, this.#gate, this.#deps, err)
  }

  protected answer(status: number, body: string | Buffer | undefined, headers: string[]): void {
    const ex = this.#ex
    headers.push('x-request-id', ex.requestId)
    if (body !== undefined) headers.push('content-length', String(Buffer.byteLength(body)))
    // As a `respond` route: a request body left unread, or a stop under way, ends the connection.
    if (ex.head.hasBody || this.#deps.isDraining()) headers.push('connection', 'close')
    const payload = ex.method === 'HEAD' ? undefined : body
    ex.bytes = payload === undefined ? 0 : Buffer.byteLength(payload)
    // Held like any other head: the middleware around this one see it (and may change it).
    this.#gate.hold(status, headers, (s, h) => {
      ex.res.writeHead(s, h)
      ex.res.end(payload)
    })
  }
}

export interface MiddlewareDeps {
  /** Reports a middleware failure (logged with its stack, counted). */
  readonly onError: (ex: Exchange, err: unknown) => void
  /** True once a graceful stop began. */
  readonly isDraining: () => boolean
}

/** Runs `fns` around `dispatch` for `ex`. Never rejects. */
export function runMiddleware(
  ex: Exchange,
  fns: readonly Middleware[],
  dispatch: (ex: Exchange) => void,
  deps: MiddlewareDeps,
): void {
  const gate = new ResponseGate()
  ex.gate = gate
  const ctx = new ExchangeContext(ex, gate, deps)
  // (When the client goes away, handle-request's finish() drops the gate: `next()` returns.)
  runChain(fns, ctx, () => ctx.terminal(dispatch)).then(
    () => ctx.unwound(),
    (err: unknown) => ctx.failed(err),
  )
}

function unwound(
  ex: Exchange,
  ctx: ExchangeContext,
  gate: ResponseGate,
  deps: MiddlewareDeps,
): void {
  if (!ctx.nextCalled && !ctx.answered) {
    failed(ex, gate, deps, new Error('a middleware neither called next() nor answered'))
    return
  }
  // The head (when held) goes out now, as middleware left it; one handed over later (a
  // `next()` not awaited) is written at once.
  const head = gate.head
  if (head !== null) ex.status = head.status
  try {
    gate.release()
  } catch (err) {
    // A status or header a middleware set that Node refuses to send: nothing went out.
    const message = `a middleware left an invalid response head: ${(err as Error).message}`
    failed(ex, gate, deps, new Error(message, { cause: err }))
  }
}

function failed(ex: Exchange, gate: ResponseGate, deps: MiddlewareDeps, err: unknown): void {
  deps.onError(ex, err)
  gate.drop()
  ex.gate = null
  if (ex.res.headersSent || ex.res.destroyed) return
  // What the route started stops: its answer is replaced by the 500.
  ex.aborted = true
  ex.attempt?.abort(new GatewayError(ErrorCode.INTERNAL, 'a middleware failed'))
  ex.status = 500
  sendError(ex.res, ErrorCode.INTERNAL, ex.requestId, { close: ex.head.hasBody })
}
