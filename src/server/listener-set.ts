/**
 * The set of open public listeners, diffed on every applied config: an unchanged address keeps
 * its socket (and every client connection on it), a new address opens before a removed one
 * closes, and a removed listener stops accepting and lets its connections finish.
 */
import type { LimitsConfig, ListenerConfig, ListenAddress } from '../config/types.ts'
import { readFile } from 'node:fs/promises'
import { socketKey } from './inherited.ts'
import {
  openListener,
  type Listener,
  type ListenerHandlers,
  type ListenerLimits,
} from './listeners.ts'

/** Idle time before a client keep-alive connection is closed (nginx uses 75 s). */
export const CLIENT_KEEPALIVE_MS = 60_000

/** The listener's address and TLS files: two configs with the same key share one socket. */
export function listenerKey(config: ListenerConfig): string {
  const tls = config.tls === null ? '' : `|tls:${config.tls.certPath}:${config.tls.keyPath}`
  return socketKey(config.address) + tls
}

export interface ListenerSetOptions {
  /** The handlers of one listener (the proxy's request, upgrade and client-error handlers). */
  readonly handlersFor: (config: ListenerConfig, listener: Listener) => ListenerHandlers
  /** Called with each listener a reload removed, to drain it in the background. */
  readonly retire: (listener: Listener) => void
  /** An inherited socket for this address, if the process was handed one (see inherited.ts). */
  readonly takeInherited?: (address: ListenAddress) => number | undefined
}

export class ListenerSet {
  readonly #open = new Map<string, Listener>()
  readonly #options: ListenerSetOptions

  constructor(options: ListenerSetOptions) {
    this.#options = options
  }

  /** Every listener currently accepting connections, in config order of their last apply. */
  get all(): Listener[] {
    return [...this.#open.values()]
  }

  /** Open client connections over every listener. */
  get connectionCount(): number {
    let n = 0
    for (const listener of this.#open.values()) n += listener.tracker.size
    return n
  }

  /**
   * Makes the open listeners match `configs`: opens what is new first (if one fails, the ones
   * opened by this call are closed again and the error is thrown, leaving the set unchanged),
   * then updates the kept ones and retires the removed ones.
   */
  async apply(configs: readonly ListenerConfig[], limits: LimitsConfig): Promise<void> {
    const liveLimits = toListenerLimits(limits)
    const wanted = new Map(configs.map((c) => [listenerKey(c), c]))
    const opened = new Map<string, Listener>()
    try {
      for (const [key, config] of wanted) {
        if (this.#open.has(key)) continue
        opened.set(key, await this.#openOne(config, liveLimits))
      }
    } catch (err) {
      for (const listener of opened.values()) listener.server.close()
      throw err
    }
    for (const [key, listener] of this.#open) {
      const config = wanted.get(key)
      if (config === undefined) continue
      listener.name = config.name
      listener.updateLimits(liveLimits)
    }
    for (const [key, listener] of [...this.#open]) {
      if (wanted.has(key)) continue
      this.#open.delete(key)
      listener.retiring = true
      this.#options.retire(listener)
    }
    const next = new Map<string, Listener>()
    for (const key of wanted.keys()) {
      const listener = this.#open.get(key) ?? opened.get(key)
      if (listener !== undefined) next.set(key, listener)
    }
    this.#open.clear()
    for (const [key, listener] of next) this.#open.set(key, listener)
  }

  /** Forgets every listener (they are drained or closed by the caller). */
  clear(): Listener[] {
    const all = this.all
    this.#open.clear()
    return all
  }

  async #openOne(config: ListenerConfig, limits: ListenerLimits): Promise<Listener> {
    let tls: { cert: Buffer; key: Buffer } | null = null
    try {
      if (config.tls !== null) {
        tls = { cert: await readFile(config.tls.certPath), key: await readFile(config.tls.keyPath) }
      }
      const fd = this.#options.takeInherited?.(config.address)
      return await openListener(
        {
          name: config.name,
          address: config.address,
          tls,
          limits,
          ...(fd === undefined ? {} : { fd }),
        },
        (listener) => this.#options.handlersFor(config, listener),
      )
    } catch (cause) {
      const where = socketKey(config.address)
      throw new Error(`listener ${config.name} on ${where}: ${(cause as Error).message}`, { cause })
    }
  }
}

function toListenerLimits(limits: LimitsConfig): ListenerLimits {
  return {
    maxHeaderBytes: limits.maxHeaderBytes,
    headerTimeoutMs: limits.headerTimeoutMs,
    keepAliveTimeoutMs: CLIENT_KEEPALIVE_MS,
  }
}
