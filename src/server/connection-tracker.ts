/**
 * Knows every client socket of the public listeners, so the open-connections gauge can be read
 * and a graceful stop can wait for the last one (or cut what is left at the deadline).
 */
import type { Socket } from 'node:net'

export class ConnectionTracker {
  readonly #sockets = new Set<Socket>()
  /** Sockets taken over by an upgrade (tunnels): never idle, ended by their own rules. */
  readonly #upgraded = new WeakSet<Socket>()
  /** TLS listeners: the TLS socket (the one node:http serves) of each tracked TCP socket. */
  readonly #httpSocketOf = new WeakMap<Socket, Socket>()
  readonly #tls: boolean

  constructor(opts: { readonly tls?: boolean } = {}) {
    this.#tls = opts.tls === true
  }

  /** A TLS handshake completed: `tls` carries the HTTP traffic of the tracked socket `raw`. */
  addTlsSocket(raw: Socket, tls: Socket): void {
    this.#httpSocketOf.set(raw, tls)
  }
  #waiters: (() => void)[] = []

  get size(): number {
    return this.#sockets.size
  }

  /** Starts tracking `socket` until it closes. */
  add(socket: Socket): void {
    this.#sockets.add(socket)
    socket.once('close', () => {
      this.#sockets.delete(socket)
      if (this.#sockets.size === 0) this.#wake()
    })
  }

  /** `socket` now carries an upgraded protocol (a tunnel), not HTTP requests. */
  markUpgraded(socket: Socket): void {
    this.#upgraded.add(socket)
  }

  /** Resolves once no tracked socket is left (at once if there is none). */
  async whenEmpty(): Promise<void> {
    if (this.#sockets.size === 0) return
    await new Promise<void>((resolve) => this.#waiters.push(resolve))
  }

  /**
   * Closes the idle keep-alive connections: those that have carried a request and have no
   * response in progress. A connection that has not sent a byte yet is left alone: it was
   * accepted a moment ago and its first request is on its way (closing it would reset a client
   * that did nothing wrong); it gets `Connection: close` on that response, or its header timeout.
   */
  closeIdle(): void {
    for (const socket of this.#sockets) {
      // On a TLS listener node:http serves the TLS socket; before its handshake completes there
      // is none, and the connection is as new as one that has not sent a byte.
      const http = this.#tls ? this.#httpSocketOf.get(socket) : socket
      if (http === undefined || http.bytesRead === 0 || this.#upgraded.has(http)) continue
      // node:http attaches the response in progress to its socket (and detaches it when done).
      const res = (http as { _httpMessage?: { writableFinished?: boolean } | null })._httpMessage
      if (res !== null && res !== undefined && res.writableFinished !== true) continue
      socket.destroy()
    }
  }

  /** Destroys every tracked socket (the drain deadline passed). */
  destroyAll(): void {
    for (const socket of this.#sockets) socket.destroy()
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }
}
