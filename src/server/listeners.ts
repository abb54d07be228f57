/**
 * node:http(s) servers for the public listeners: limits and timeouts set once per listener,
 * sockets opened on host:port, [v6]:port or a unix path. No proxy logic: the handlers are
 * functions passed in.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import { linkSync, renameSync } from 'node:fs'
import net, { type Socket } from 'node:net'
import type { ListenAddress } from '../config/types.ts'
import { ConnectionTracker } from './connection-tracker.ts'
import { listenOn } from '../util/listen.ts'

export interface ListenerLimits {
  readonly maxHeaderBytes: number
  /** Time a client has to send a complete request head (slow-loris guard). */
  readonly headerTimeoutMs: number
  /** Idle time after which a keep-alive client connection is closed. */
  readonly keepAliveTimeoutMs: number
}

export interface ListenerHandlers {
  readonly request: (req: IncomingMessage, res: ServerResponse) => void
  readonly checkContinue: (req: IncomingMessage, res: ServerResponse) => void
  readonly upgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void
  readonly clientError: (err: Error & { code?: string }, socket: Socket) => void
  /** `Expect` other than 100-continue (Node would answer a bare 417 otherwise). */
  readonly checkExpectation: (req: IncomingMessage, res: ServerResponse) => void
  /** CONNECT requests (Node would drop the socket silently otherwise). */
  readonly connect: (req: IncomingMessage, socket: Socket, head: Buffer) => void
}

export interface ListenerSpec {
  readonly name: string
  readonly address: ListenAddress
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | null
  readonly limits: ListenerLimits
  /** An inherited socket already bound to `address` (hot upgrade, systemd), taken over. */
  readonly fd?: number
}

/** An open listener and the client connections it accepted. */
export class Listener {
  name: string
  readonly server: http.Server
  readonly address: ListenAddress
  readonly tracker: ConnectionTracker
  /** Set when a reload removed this listener: its responses then carry Connection: close. */
  retiring = false

  /** This process bound the address (rather than taking over an inherited socket). */
  readonly #boundHere: boolean

  constructor(
    name: string,
    server: http.Server,
    address: ListenAddress,
    opts: { readonly tls: boolean; readonly boundHere: boolean },
  ) {
    const { tls } = opts
    this.#boundHere = opts.boundHere
    this.name = name
    this.server = server
    this.address = address
    this.tracker = new ConnectionTracker({ tls })
    server.on('connection', (socket: Socket) => this.tracker.add(socket))
    if (tls) {
      server.on('secureConnection', (socket: Socket & { _parent?: Socket }) => {
        // tls.Server's TLS socket keeps the TCP socket it wraps as `_parent`.
        if (socket._parent !== undefined) this.tracker.addTlsSocket(socket._parent, socket)
      })
    }
  }

  /** Applies limits that a live server can take (the header size cap is fixed at creation). */
  updateLimits(limits: ListenerLimits): void {
    this.server.headersTimeout = limits.headerTimeoutMs
    this.server.keepAliveTimeout = limits.keepAliveTimeoutMs
  }

  /** The bound address as `host:port` (port resolved when 0 was asked) or `unix:/path`. */
  get url(): string {
    const bound = this.server.address()
    if (bound === null || typeof bound === 'string') return `unix:${bound ?? ''}`
    const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address
    return `${host}:${bound.port}`
  }

  get port(): number {
    const bound = this.server.address()
    return bound !== null && typeof bound !== 'string' ? bound.port : 0
  }

  /** Stops accepting at once; open connections are left to the caller (drain). */
  stopAccepting(): void {
    // net.Server's close(), not http.Server's: since Node 19 the latter also destroys every
    // connection it deems idle, which includes one accepted a moment ago whose first request
    // is still on its way; that client would be reset. The drain closes idle ones itself
    // (ConnectionTracker.closeIdle). Closing the listening handle is synchronous; the callback
    // (all connections gone) is not awaited because the drain tracks connections itself.
    if (!this.server.listening) return
    // libuv removes a unix socket's path when the process that bound it closes it, even though
    // a hot upgrade's new process still serves that socket: the path is kept through a second
    // link, renamed back in the same tick.
    const path = this.address.kind === 'unix' && this.#boundHere ? this.address.path : null
    const keep = path === null ? null : `${path}.${process.pid}.keep`
    let kept = false
    if (path !== null && keep !== null) {
      try {
        linkSync(path, keep)
        kept = true
      } catch {
        // No path to keep (removed by hand): nothing to restore.
      }
    }
    net.Server.prototype.close.call(this.server)
    if (kept && path !== null && keep !== null) {
      try {
        renameSync(keep, path)
      } catch {
        // Replaced meanwhile: the new path stands.
      }
    }
  }

  /** Once no connection is left: http.Server's own clean-up (its header-timeout timer). */
  release(): void {
    this.server.close(() => undefined)
  }
}

/** Creates a server for `spec` and starts listening; rejects if the address cannot be bound. */
export async function openListener(
  spec: ListenerSpec,
  handlers: (listener: Listener) => ListenerHandlers,
): Promise<Listener> {
  const options: http.ServerOptions = {
    maxHeaderSize: spec.limits.maxHeaderBytes,
    headersTimeout: spec.limits.headerTimeoutMs,
    // Long uploads and downloads are bounded by idle timeouts, not by a whole-request cap.
    requestTimeout: 0,
    keepAliveTimeout: spec.limits.keepAliveTimeoutMs,
    // Host is checked by the proxy so that its absence gets our JSON 400, not Node's bare one.
    requireHostHeader: false,
    // How often Node checks header timeouts: the default 30 s would let slow-loris linger.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, spec.limits.headerTimeoutMs / 4)),
  }
  const server =
    spec.tls === null
      ? http.createServer(options)
      : https.createServer({ ...options, cert: spec.tls.cert, key: spec.tls.key })
  const listener = new Listener(spec.name, server, spec.address, {
    tls: spec.tls !== null,
    boundHere: spec.fd === undefined,
  })
  const on = handlers(listener)
  server.on('request', on.request)
  server.on('checkContinue', on.checkContinue)
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    listener.tracker.markUpgraded(socket)
    on.upgrade(req, socket, head)
  })
  server.on('clientError', on.clientError)
  server.on('checkExpectation', on.checkExpectation)
  server.on('connect', on.connect)
  await listenOn(server, spec.address, spec.fd)
  return listener
}
