/**
 * The library's middleware for upgrade requests (WebSocket): the same chain as for HTTP
 * requests (middleware.ts), run before the tunnel opens, so that an auth check covers WebSockets
 * too. A middleware can refuse the upgrade (`ctx.respond`), read the request and change the
 * headers sent upstream. `await next()` returns once the upgrade is on its way upstream: its
 * answer (the 101, or a refusal) is relayed as it comes and cannot be changed, so
 * `ctx.response` and `ctx.upstream` stay null.
 */
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { ErrorCode, statusOf } from '../errors.ts'
import { sendRawError, writeRawResponse } from './error-response.ts'
import { RequestHeaderEdits, runChain, type Context, type Middleware } from './middleware.ts'

/** The upgrade request as routing sees it (normalised path, request id). */
export interface UpgradeView {
  readonly req: IncomingMessage
  readonly socket: Socket
  readonly method: string
  readonly path: string
  readonly query: string
  readonly host: string
  readonly requestId: string
  readonly configVersion: string
  /** The matched route, once `open` has routed it. */
  readonly route: () => string | null
}

export interface UpgradeMiddlewareDeps {
  /** Routes the upgrade and sends it upstream, with the middleware's header changes. */
  readonly open: (edits: RequestHeaderEdits | null) => void
  /** Records the status of an answer given here (for the access log). */
  readonly answered: (status: number) => void
  /** Reports a middleware failure (logged with its stack, counted). */
  readonly onError: (err: unknown) => void
}

class UpgradeContext implements Context {
  readonly #view: UpgradeView
  #edits: RequestHeaderEdits | null = null
  #state: Record<string, unknown> | null = null
  nextCalled = false
  answer: { status: number; body: string | Buffer; headers: string[] } | null = null
  readonly response = null
  readonly upstream = null

  constructor(view: UpgradeView) {
    this.#view = view
  }

  get req(): IncomingMessage {
    return this.#view.req
  }
  get method(): string {
    return this.#view.method
  }
  get path(): string {
    return this.#view.path
  }
  get query(): string {
    return this.#view.query
  }
  get host(): string {
    return this.#view.host
  }
  get clientIp(): string {
    return this.#view.socket.remoteAddress ?? ''
  }
  get requestId(): string {
    return this.#view.requestId
  }
  get configVersion(): string {
    return this.#view.configVersion
  }
  get route(): string | null {
    return this.#view.route()
  }
  get requestHeaders(): RequestHeaderEdits {
    return (this.#edits ??= new RequestHeaderEdits(this.#view.req.headers))
  }
  get edits(): RequestHeaderEdits | null {
    return this.#edits
  }
  get state(): Record<string, unknown> {
    return (this.#state ??= {})
  }

  respond(status: number, body: string | Buffer = '', headers: Record<string, string> = {}): void {
    if (this.nextCalled || this.answer !== null) {
      throw new Error('ctx.respond() after next() or a second time')
    }
    // An upgrade refused here gets a final answer: 101 and other 1xx are not one.
    if (!Number.isInteger(status) || status < 200 || status > 999) {
      throw new RangeError(`ctx.respond(): invalid status ${String(status)}`)
    }
    const flat: string[] = []
    for (const [name, value] of Object.entries(headers)) flat.push(name.toLowerCase(), value)
    this.answer = { status, body, headers: flat }
  }
}

/** Runs `fns` for an upgrade request, then opens the tunnel or answers. Never rejects. */
export function runUpgradeMiddleware(
  view: UpgradeView,
  fns: readonly Middleware[],
  deps: UpgradeMiddlewareDeps,
): void {
  const ctx = new UpgradeContext(view)
  const terminal = (): Promise<void> => {
    if (ctx.answer !== null) return Promise.reject(new Error('next() after ctx.respond()'))
    ctx.nextCalled = true
    deps.open(ctx.edits)
    return Promise.resolve()
  }
  runChain(fns, ctx, terminal).then(
    () => {
      const answer = ctx.answer
      if (answer !== null) {
        try {
          writeRawResponse(view.socket, answer.status, answer.headers, answer.body, view.requestId)
          deps.answered(answer.status)
        } catch (err) {
          failed(view, ctx, deps, err)
        }
      } else if (!ctx.nextCalled) {
        failed(view, ctx, deps, new Error('a middleware neither called next() nor answered'))
      }
    },
    (err: unknown) => failed(view, ctx, deps, err),
  )
}

function failed(view: UpgradeView, ctx: UpgradeContext, deps: UpgradeMiddlewareDeps, err: unknown) {
  deps.onError(err)
  if (ctx.nextCalled) {
    // The upgrade is on its way and its answer cannot be replaced: the connection is cut.
    view.socket.destroy()
    return
  }
  deps.answered(statusOf(ErrorCode.INTERNAL))
  sendRawError(view.socket, ErrorCode.INTERNAL, view.requestId)
}
