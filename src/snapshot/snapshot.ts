/**
 * An immutable, compiled snapshot of one config version, plus the count of requests and
 * tunnels pinned to it. When a retired snapshot's count reaches zero it disposes of its upstreams
 * (Caddy's Cleanup): their registry leases go, so pools of targets dropped by a reload close after
 * their last use, and discovery they alone followed stops.
 */
import type { GatewayConfig } from '../config/types.ts'
import type { Router } from '../router/router.ts'
import type { RouteEntry, UpstreamRuntime } from './route-entry.ts'
import type { Logger } from '../log/logger.ts'
import type { RolloutTally } from './rollout-split.ts'

export class Snapshot {
  readonly version: string
  readonly config: GatewayConfig
  readonly router: Router<RouteEntry>
  readonly upstreams: ReadonlyMap<string, UpstreamRuntime>
  readonly createdAt = Date.now()
  /** Logger bound to this snapshot's `config_version`. */
  readonly logger: Logger
  /** What this version answered, counted while it is one side of a staged roll-out. */
  tally: RolloutTally | null = null
  #pinned = 0
  #retired = false
  #disposed = false
  #onDisposed: (() => void) | null = null

  constructor(init: {
    version: string
    config: GatewayConfig
    router: Router<RouteEntry>
    upstreams: ReadonlyMap<string, UpstreamRuntime>
    logger: Logger
  }) {
    this.logger = init.logger
    this.version = init.version
    this.config = init.config
    this.router = init.router
    this.upstreams = init.upstreams
  }

  /** Requests and tunnels currently running on this snapshot. */
  get pinned(): number {
    return this.#pinned
  }

  get retired(): boolean {
    return this.#retired
  }

  /** A request or tunnel starts on this snapshot. */
  pin(): void {
    this.#pinned++
  }

  /** That request or tunnel has finished. */
  unpin(): void {
    this.#pinned--
    if (this.#pinned === 0 && this.#retired) this.#dispose()
  }

  /** No new request will start here; resources go once the last pinned one ends. */
  retire(onDisposed?: () => void): void {
    if (this.#retired) return
    this.#retired = true
    this.#onDisposed = onDisposed ?? null
    if (this.#pinned === 0) this.#dispose()
  }

  #dispose(): void {
    if (this.#disposed) return
    this.#disposed = true
    for (const upstream of this.upstreams.values()) upstream.dispose()
    const done = this.#onDisposed
    this.#onDisposed = null
    done?.()
  }
}
