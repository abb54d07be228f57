/**
 * One request through the middleware chain (see middleware.ts): builds its Context, runs the
 * chain around `dispatch` (routing and the route's action), then writes what the chain decided:
 * the held head as middleware left it, a middleware's own answer, or a 500 for one that threw.
 */
import type { IncomingMessage } from 'node:http'
import { ErrorCode, GatewayError } from '../errors.ts'
import { writeWhole } from './actions/respond.ts'
import { sendError } from './error-response.ts'
import type { Exchange } from './exchange.ts'
import {
  RequestHeaderEdits,
  ResponseGate,
  runChain,
  type Context,
  type Middleware,
  type ResponseHead,
  type UpstreamInfo,
} from './middleware.ts'

class ExchangeContext implements Context {
  readonly #ex: Exchange
  readonly requestHeaders: RequestHeaderEdits
  readonly state: Record<string, unknown> = {}
  nextCalled = false
  answer: { status: number; body: string | Buffer | undefined; headers: string[] } | null = null
  upstream: UpstreamInfo | null = null

  constructor(ex: Exchange, edits: RequestHeaderEdits) {
    this.#ex = ex
    this.requestHeaders = edits
  }

  get req(): IncomingMessage {
    return this.#ex.req
  }
  get method(): string {
    return this.#ex.method
  }
  get path(): string {
    return this.#ex.path
  }
  get query(): string {
    return this.#ex.query
  }
  get host(): string {
    return this.#ex.host
  }
  get clientIp(): string {
    return this.#ex.clientIp
  }
  get requestId(): string {
    return this.#ex.requestId
  }
  get configVersion(): string {
    return this.#ex.snapshot.version
  }
  get response(): ResponseHead | null {
    return this.#ex.gate?.head ?? null
  }
  get route(): string | null {
    return this.#ex.route?.name ?? null
  }

  respond(status: number, body?: string | Buffer, headers: Record<string, string> = {}): void {
    if (this.nextCalled) throw new Error('ctx.respond() after next(): change ctx.response instead')
    if (!Number.isInteger(status) || status < 200 || status > 999) {
      throw new RangeError(`ctx.respond(): invalid status ${String(status)}`)
    }
    const flat: string[] = []
    for (const [name, value] of Object.entries(headers)) flat.push(name.toLowerCase(), value)
    this.answer = { status, body, headers: flat }
  }
}

export interface MiddlewareDeps {
  /** Reports a middleware failure (logged with its stack, counted). */
  readonly onError: (ex: Exchange, err: unknown) => void
}

/** Runs `fns` around `dispatch` for `ex`. Never rejects. */
export function runMiddleware(
  ex: Exchange,
  fns: readonly Middleware[],
  dispatch: (ex: Exchange) => void,
  deps: MiddlewareDeps,
): void {
  const gate = new ResponseGate()
  const edits = new RequestHeaderEdits(ex.req.headers)
  ex.gate = gate
  ex.requestEdits = edits
  const ctx = new ExchangeContext(ex, edits)
  // The client went away: nothing will be written, and a waiting `next()` returns.
  ex.res.once('close', () => gate.drop())
  const terminal = (): Promise<void> => {
    ctx.nextCalled = true
    dispatch(ex)
    return gate.held().then(() => {
      const attempt = ex.attempt
      if (attempt !== null && ex.gate?.head !== null) {
        ctx.upstream = {
          name: ex.upstream,
          target: ex.target,
          status: attempt.status,
          durationMs: attempt.headersMs,
        }
      }
    })
  }
  runChain(fns, ctx, terminal).then(
    () => unwound(ex, ctx, gate, deps),
    (err: unknown) => failed(ex, gate, deps, err),
  )
}

function unwound(
  ex: Exchange,
  ctx: ExchangeContext,
  gate: ResponseGate,
  deps: MiddlewareDeps,
): void {
  const answer = ctx.answer
  if (answer !== null) {
    // A middleware answered: the route never ran.
    gate.drop()
    ex.gate = null
    const headers = [...answer.headers, 'x-request-id', ex.requestId]
    const body = ex.method === 'HEAD' ? undefined : answer.body
    if (answer.body !== undefined) {
      headers.push('content-length', String(Buffer.byteLength(answer.body)))
    }
    ex.status = answer.status
    ex.bytes = body === undefined ? 0 : Buffer.byteLength(body)
    writeWhole(ex, answer.status, headers, body)
    return
  }
  if (!ctx.nextCalled) {
    failed(ex, gate, deps, new Error('a middleware neither called next() nor answered'))
    return
  }
  // The head (when held) goes out now; one handed over later is written at once.
  const head = gate.head
  if (head !== null) ex.status = head.status
  gate.release()
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
