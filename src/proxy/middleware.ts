/**
 * The library's onion middleware (SPEC §8, the seed's Gin chain; composed as Koa and Hono do):
 * `gateway.use(async (ctx, next) => { … })`. Each request that has a snapshot and a valid head
 * runs the chain, outermost first; `await next()` runs the rest (in the end: routing and the
 * route's action) and returns once the response head is known but not yet sent, so that a
 * middleware can read the upstream's status and timing and change the status and headers. The
 * head goes out when the outermost middleware returns; a forwarded body waits for it (undici is
 * paused), so nothing is buffered beyond what the upstream already sent.
 *
 * A middleware may answer by itself (`ctx.respond`) instead of calling `next()`. One that
 * throws gets a 500 JSON error without details (logged with its stack), and the gateway goes on.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'

/** A header list kept as Node's flat `[name, value, …]` array; names compared lowercase. */
export class HeaderList {
  readonly raw: string[]

  constructor(raw: string[]) {
    this.raw = raw
  }

  /** The first value of `name`, or undefined. */
  get(name: string): string | undefined {
    const lower = name.toLowerCase()
    const raw = this.raw
    for (let i = 0; i < raw.length; i += 2) {
      if ((raw[i] as string).toLowerCase() === lower) return raw[i + 1]
    }
    return undefined
  }

  /** Replaces every value of `name` with `value`. */
  set(name: string, value: string): void {
    this.delete(name)
    this.raw.push(name.toLowerCase(), value)
  }

  /** Adds a value (a second Set-Cookie, say). */
  append(name: string, value: string): void {
    this.raw.push(name.toLowerCase(), value)
  }

  delete(name: string): void {
    const lower = name.toLowerCase()
    const raw = this.raw
    for (let i = raw.length - 2; i >= 0; i -= 2) {
      if ((raw[i] as string).toLowerCase() === lower) raw.splice(i, 2)
    }
  }
}

/** Changes to the request headers sent upstream, asked before `next()`. */
export class RequestHeaderEdits {
  readonly #headers: IncomingHttpHeaders
  /** Lowercase name → new value, or null for removed (created on the first change). */
  #edits: Map<string, string | null> | null = null

  constructor(headers: IncomingHttpHeaders) {
    this.#headers = headers
  }

  /** The value the upstream will see (the client's, or as changed here). */
  get(name: string): string | undefined {
    const lower = name.toLowerCase()
    const edited = this.#edits?.get(lower)
    if (edited !== undefined) return edited ?? undefined
    const value = this.#headers[lower]
    return Array.isArray(value) ? value.join(', ') : value
  }

  set(name: string, value: string): void {
    ;(this.#edits ??= new Map()).set(name.toLowerCase(), value)
  }

  delete(name: string): void {
    ;(this.#edits ??= new Map()).set(name.toLowerCase(), null)
  }

  /** Applies the edits to the flat header list of the upstream request. */
  applyTo(headers: string[]): void {
    if (this.#edits === null) return
    const list = new HeaderList(headers)
    for (const [name, value] of this.#edits) {
      if (value === null) list.delete(name)
      else list.set(name, value)
    }
  }
}

/** What the upstream answered, for the middleware after `next()`. */
export interface UpstreamInfo {
  /** The upstream's name in the config. */
  readonly name: string
  /** The target that answered (`http://host:port`). */
  readonly target: string
  /** The status the upstream sent. */
  readonly status: number
  /** From sending the request upstream to its response headers, in ms. */
  readonly durationMs: number
}

/** The response head after `next()`: status and headers, still changeable. */
export interface ResponseHead {
  status: number
  readonly headers: HeaderList
}

/** A middleware's view of one request. */
export interface Context {
  readonly req: IncomingMessage
  readonly method: string
  /** The normalised path (no query). */
  readonly path: string
  /** `?…` or empty. */
  readonly query: string
  readonly host: string
  readonly clientIp: string
  readonly requestId: string
  /** The config version this request runs on (the canary's during a roll-out, if it got it). */
  readonly configVersion: string
  /** The request headers the upstream will get: read, set or delete them before `next()`. */
  readonly requestHeaders: RequestHeaderEdits
  /** Room for middleware to pass values along. */
  readonly state: Record<string, unknown>
  /** After `next()`: the response head (null before, or when the client went away). */
  readonly response: ResponseHead | null
  /** After `next()`: the route that matched, or null. */
  readonly route: string | null
  /** After `next()`: the upstream that answered, or null (a `respond` route, an error). */
  readonly upstream: UpstreamInfo | null
  /** Answers without calling `next()`: the rest of the chain and the route do not run. */
  respond(status: number, body?: string | Buffer, headers?: Record<string, string>): void
}

export type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void> | void

/** What a middleware context reads of its request (an Exchange, or an upgrade request). */
export interface RequestFacts {
  readonly req: IncomingMessage
  readonly method: string
  readonly path: string
  readonly query: string
  readonly host: string
  readonly clientIp: string
  readonly requestId: string
  readonly configVersion: string
}

/**
 * What the contexts of HTTP and upgrade requests share: the request's facts, `state`, the
 * request header changes (created on first use) and the checks of `respond()`; each kind writes
 * its answer its own way (`answer`).
 */
export abstract class BaseContext implements Context {
  readonly #facts: RequestFacts
  #state: Record<string, unknown> | null = null
  #edits: RequestHeaderEdits | null = null
  /** `next()` reached the end of the chain. */
  nextCalled = false
  /** A middleware answered with `respond()`. */
  answered = false

  constructor(facts: RequestFacts) {
    this.#facts = facts
  }

  abstract get response(): ResponseHead | null
  abstract get route(): string | null
  abstract get upstream(): UpstreamInfo | null
  /** Writes (or holds) the answer `respond()` checked; `headers` are the middleware's. */
  protected abstract answer(
    status: number,
    body: string | Buffer | undefined,
    headers: string[],
  ): void

  get req(): IncomingMessage {
    return this.#facts.req
  }
  get method(): string {
    return this.#facts.method
  }
  get path(): string {
    return this.#facts.path
  }
  get query(): string {
    return this.#facts.query
  }
  get host(): string {
    return this.#facts.host
  }
  get clientIp(): string {
    return this.#facts.clientIp
  }
  get requestId(): string {
    return this.#facts.requestId
  }
  get configVersion(): string {
    return this.#facts.configVersion
  }
  get state(): Record<string, unknown> {
    return (this.#state ??= {})
  }
  get requestHeaders(): RequestHeaderEdits {
    return (this.#edits ??= new RequestHeaderEdits(this.#facts.req.headers))
  }
  /** The request header changes asked so far (null: none). */
  get edits(): RequestHeaderEdits | null {
    return this.#edits
  }

  respond(status: number, body?: string | Buffer, headers: Record<string, string> = {}): void {
    if (this.nextCalled || this.answered) {
      throw new Error('ctx.respond() after next() or a second time: change ctx.response instead')
    }
    if (!Number.isInteger(status) || status < 200 || status > 999) {
      throw new RangeError(`ctx.respond(): invalid status ${String(status)}`)
    }
    const flat: string[] = []
    for (const [name, value] of Object.entries(headers)) flat.push(name.toLowerCase(), value)
    this.answered = true
    this.answer(status, body, flat)
  }
}

/**
 * Runs `fns` in onion order around `terminal` (Koa's compose): `next()` more than once in one
 * middleware rejects.
 */
export function runChain<C>(
  fns: readonly ((ctx: C, next: () => Promise<void>) => Promise<void> | void)[],
  ctx: C,
  terminal: () => Promise<void>,
): Promise<void> {
  let reached = -1
  const dispatch = (i: number): Promise<void> => {
    if (i <= reached) return Promise.reject(new Error('next() called more than once'))
    reached = i
    const fn = fns[i]
    if (fn === undefined) return terminal()
    try {
      return Promise.resolve(fn(ctx, () => dispatch(i + 1)))
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
  }
  return dispatch(0)
}

/** An upstream attempt, as the gate describes it to middleware. */
export interface HeldFrom {
  readonly upstreamName: string
  readonly target: { readonly key: string }
  readonly status: number
  readonly headersMs: number
}

const RESOLVED: Promise<void> = Promise.resolve()

/** Writes a held response head (and lets the body follow). */
export type HeadWriter = (status: number, headers: string[]) => void

/**
 * Holds the response head of a request that runs middleware: the writers (an upstream attempt,
 * a `respond` or `redirect` action, an error) hand their head here instead of writing it, and
 * it goes out once the chain has unwound.
 */
export class ResponseGate {
  #state: 'waiting' | 'held' | 'released' | 'dropped' = 'waiting'
  #write: HeadWriter | null = null
  #head: ResponseHead | null = null
  #onHeld: (() => void) | null = null
  /** The upstream attempt whose head is held, if it came from one. */
  #from: HeldFrom | null = null
  /** The chain has finished: a head handed over from now on is written at once. */
  #chainDone = false

  get head(): ResponseHead | null {
    return this.#head
  }

  /** Resolves when a head is held (or the gate dropped: the client went away, an error). */
  held(): Promise<void> {
    if (this.#state !== 'waiting') return RESOLVED
    return new Promise((resolve) => (this.#onHeld = resolve))
  }

  /** What the upstream answered, when the held head came from an upstream attempt. */
  get upstream(): UpstreamInfo | null {
    const from = this.#from
    if (from === null) return null
    return {
      name: from.upstreamName,
      target: from.target.key,
      status: from.status,
      durationMs: from.headersMs,
    }
  }

  /**
   * A writer hands its head over; `write` sends it when the chain has unwound. A head held
   * already is replaced (an upstream body that failed before anything was sent becomes an error
   * response). False when the head can no longer be held: written already, or dropped.
   */
  hold(
    status: number,
    headers: string[],
    write: HeadWriter,
    from: HeldFrom | null = null,
  ): boolean {
    if (this.#state === 'released' || this.#state === 'dropped') return false
    this.#state = 'held'
    this.#head = { status, headers: new HeaderList(headers) }
    this.#write = write
    this.#from = from
    if (this.#chainDone) this.release()
    const resolve = this.#onHeld
    this.#onHeld = null
    resolve?.()
    return true
  }

  /**
   * The chain has unwound: the held head goes out (as middleware left it). Throws what Node's
   * writeHead throws for a status or header a middleware made invalid (nothing is written then).
   */
  release(): void {
    this.#chainDone = true
    if (this.#state !== 'held') return
    this.#state = 'released'
    const head = this.#head as ResponseHead
    const write = this.#write as HeadWriter
    this.#write = null
    write(head.status, head.headers.raw)
  }

  /** Nothing held will be written (the client is gone, or a middleware failed). */
  drop(): void {
    if (this.#state === 'released') return
    this.#state = 'dropped'
    this.#write = null
    const resolve = this.#onHeld
    this.#onHeld = null
    resolve?.()
  }
}
