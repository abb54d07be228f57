/**
 * The per-request record that travels from handle-request through the actions: who asked,
 * which snapshot and route serve it, and what was answered (for the access log and metrics).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Snapshot } from '../snapshot/snapshot.ts'
import type { RouteEntry } from '../snapshot/route-entry.ts'
import type { RouteRecorder } from '../metrics/metrics.ts'
import type { RequestHead } from './request-head.ts'
import type { RequestView } from '../router/router.ts'
import type { Attempt } from './attempt.ts'
import type { RequestBody } from './replay-buffer.ts'
import type { RequestHeaderEdits, ResponseGate } from './middleware.ts'
import type { RolloutTally } from '../snapshot/rollout-split.ts'

export class Exchange implements RequestView {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly snapshot: Snapshot
  /** The roll-out tally of this request's version, taken when it started (null: none runs). */
  readonly tally: RolloutTally | null
  readonly startMs = performance.now()
  readonly method: string
  readonly requestId: string
  readonly clientIp: string
  readonly head: RequestHead
  /** Hostname for routing (the absolute-form authority wins over Host, RFC 9112 §3.2.2). */
  readonly host: string
  readonly path: string
  readonly query: string
  /** The client sent `Expect: 100-continue` and is waiting for our go-ahead. */
  readonly expectContinue: boolean
  route: RouteEntry | null = null
  recorder: RouteRecorder | null = null
  upstream = ''
  target = ''
  /** Status sent to the client (499 when it went away first). */
  status = 0
  bytes = 0
  body: RequestBody | null = null
  attempt: Attempt | null = null
  /** A `100 Continue` went out already. */
  continueSent = false
  /** Set once the client connection is gone: no more attempts. */
  aborted = false
  /** With middleware: where the response head waits for the chain to unwind. */
  gate: ResponseGate | null = null
  /** With middleware: request header changes for the upstream. */
  requestEdits: RequestHeaderEdits | null = null

  constructor(init: {
    req: IncomingMessage
    res: ServerResponse
    snapshot: Snapshot
    requestId: string
    head: RequestHead
    host: string
    path: string
    query: string
    expectContinue: boolean
  }) {
    this.req = init.req
    this.res = init.res
    this.snapshot = init.snapshot
    this.tally = init.snapshot.tally
    this.method = init.req.method ?? 'GET'
    this.requestId = init.requestId
    this.clientIp = init.req.socket.remoteAddress ?? ''
    this.head = init.head
    this.host = init.host
    this.path = init.path
    this.query = init.query
    this.expectContinue = init.expectContinue
  }

  /** The config version this exchange runs on (for middleware, see RequestFacts). */
  get configVersion(): string {
    return this.snapshot.version
  }

  /** Node's lazily built header object, read only when a route constrains on headers. */
  get headers(): IncomingMessage['headers'] {
    return this.req.headers
  }
}
