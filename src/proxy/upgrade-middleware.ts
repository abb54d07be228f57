/**
 * The library's middleware for upgrade requests (WebSocket): the same chain as for HTTP
 * requests (middleware.ts), run before the tunnel opens, so that an auth check covers WebSockets
 * too. A middleware can refuse the upgrade (`ctx.respond`), read the request and change the
 * headers sent upstream. `await next()` returns once the upgrade is on its way upstream: its
 * answer (the 101, or a refusal) is relayed as it comes and cannot be changed, so
 * `ctx.response` and `ctx.upstream` stay null.
 */
import type { Socket } from 'node:net'
import { ErrorCode, statusOf } from '../errors.ts'
import { sendRawError, writeRawResponse } from './error-response.ts'
import {
  BaseContext,
  runChain,
  type Middleware,
  type RequestFacts,
  type RequestHeaderEdits,
} from './middleware.ts'

/** The upgrade request as routing sees it (normalised path, request id). */
export interface UpgradeView extends RequestFacts {
  readonly socket: Socket
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

class UpgradeContext extends BaseContext {
  readonly #view: UpgradeView
  given: { status: number; body: string | Buffer; headers: string[] } | null = null
  readonly response = null
  readonly upstream = null

  constructor(view: UpgradeView) {
    super(view)
    this.#view = view
  }

  get route(): string | null {
    return this.#view.route()
  }

  protected answer(status: number, body: string | Buffer | undefined, headers: string[]): void {
    this.given = { status, body: body ?? '', headers }
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
    if (ctx.answered) return Promise.reject(new Error('next() after ctx.respond()'))
    ctx.nextCalled = true
    deps.open(ctx.edits)
    return Promise.resolve()
  }
  runChain(fns, ctx, terminal).then(
    () => {
      const answer = ctx.given
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
