/**
 * Knows every client socket of the public listeners, so the open-connections gauge can be read
 * and a graceful stop can wait for the last one (or cut what is left at the deadline).
 */
import type { Socket } from 'node:net'

export class ConnectionTracker {
  readonly #sockets = new Set<Socket>()
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

  /** Resolves once no tracked socket is left (at once if there is none). */
  async whenEmpty(): Promise<void> {
    if (this.#sockets.size === 0) return
    await new Promise<void>((resolve) => this.#waiters.push(resolve))
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
