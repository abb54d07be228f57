/**
 * The runtime registry: ref-counted target states and undici connection pools keyed by target
 * identity. Snapshots acquire what they use while being built and release it when retired, so
 * a target kept across a reload keeps its pool, its sockets and its health (acquire before
 * release: the new snapshot's reference keeps the entry alive).
 */
import { Pool } from 'undici'
import { HealthChecker, type HealthCheckSettings, type HealthTransition } from './health-check.ts'
import { TargetState, stateId } from './target-state.ts'
import { SharedMap } from '../util/shared.ts'

/** Settings that shape a pool; a change of any of them gives the target a new pool. */
export interface PoolSettings {
  readonly connectTimeoutMs: number
  readonly maxConnections: number
  readonly keepAliveTimeoutMs: number
}

/** What a snapshot holds for one target: its state and its pool, until `release()`. */
export interface TargetLease {
  readonly state: TargetState
  readonly pool: Pool
  release(): void
}

export interface RegistryOptions {
  /** Told when an active health check changes a target's health. */
  readonly onHealthChange?: HealthTransition
  /** Told when a target's state is dropped (no config uses the target any more). */
  readonly onStateRemoved?: (state: TargetState) => void
}

export class UpstreamRegistry {
  readonly #states: SharedMap<TargetState>
  // Graceful: requests still on a dropped pool finish before its sockets close.
  readonly #pools = new SharedMap<Pool>((p) => void p.close().catch(() => undefined))
  readonly #onHealthChange: HealthTransition
  readonly #onStateRemoved: (state: TargetState) => void
  /** The health-check settings of each upstream as last configured (for targets found later). */
  #healthChecks = new Map<string, HealthCheckSettings | null>()

  constructor(options: RegistryOptions = {}) {
    this.#onHealthChange = options.onHealthChange ?? (() => undefined)
    this.#onStateRemoved = options.onStateRemoved ?? (() => undefined)
    this.#states = new SharedMap<TargetState>((s) => {
      s.checker?.stop()
      this.#onStateRemoved(s)
    })
  }

  /** Takes a reference on the state and pool of `origin` in `upstream`, creating them if new. */
  acquire(upstream: string, origin: string, settings: PoolSettings): TargetLease {
    const id = stateId(upstream, origin)
    const state = this.#states.acquire(id, () => this.#newState(upstream, origin))
    const poolKey = `${id}\u0000${settings.connectTimeoutMs}/${settings.maxConnections}/${settings.keepAliveTimeoutMs}`
    const pool = this.#pools.acquire(poolKey, () => createPool(origin, settings))
    let released = false
    return {
      state: state.value,
      pool: pool.value,
      release: () => {
        if (released) return
        released = true
        state.release()
        pool.release()
      },
    }
  }

  /**
   * A target new to the registry. One that discovery found after its upstream was configured
   * is probed at once as configured; one built for a new config is set up by configure().
   */
  #newState(upstream: string, origin: string): TargetState {
    const state = new TargetState(upstream, origin)
    const settings = this.#healthChecks.get(upstream) ?? null
    if (settings !== null) state.checker = new HealthChecker(state, settings, this.#onHealthChange)
    return state
  }

  /** Every live target state (for GET /upstreams and metrics). */
  states(): TargetState[] {
    return this.#states.values()
  }

  /** Number of pools alive (tests assert pools are kept or freed). */
  get poolCount(): number {
    return this.#pools.size
  }

  /** Destroys every pool at once (process shutdown after draining). */
  async destroy(): Promise<void> {
    const pools = this.#pools.clear()
    for (const state of this.#states.clear()) state.checker?.stop()
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)))
  }

  /**
   * Makes the targets follow the config that now serves: probed or not (and how) per the
   * upstream's `health_check`, and no longer ejected when it has no `outlier`. Targets of other
   * upstreams (a retired snapshot's, still draining) are left as they are.
   */
  configure(
    upstreams: readonly {
      readonly name: string
      readonly healthCheck: HealthCheckSettings | null
      readonly outlier: object | null
    }[],
  ): void {
    const byName = new Map(upstreams.map((u) => [u.name, u]))
    this.#healthChecks = new Map(upstreams.map((u) => [u.name, u.healthCheck]))
    for (const state of this.#states.values()) {
      const upstream = byName.get(state.upstream)
      if (upstream === undefined) continue
      this.#configureHealthCheck(state, upstream.healthCheck)
      if (upstream.outlier === null) {
        state.ejectedUntilMs = 0
        state.consecutiveFailures = 0
      }
    }
  }

  #configureHealthCheck(state: TargetState, settings: HealthCheckSettings | null): void {
    if (settings === null) {
      if (state.checker === null) return
      // Health checks turned off: the target is taken at its word again.
      state.checker.stop()
      state.checker = null
      if (!state.healthy) {
        state.healthy = true
        this.#onHealthChange(state, true, 'health checks turned off')
      }
      return
    }
    if (state.checker === null) {
      state.checker = new HealthChecker(state, settings, this.#onHealthChange)
    } else {
      state.checker.update(settings)
    }
  }
}

function createPool(origin: string, settings: PoolSettings): Pool {
  return new Pool(origin, {
    connections: settings.maxConnections,
    pipelining: 1,
    keepAliveTimeout: settings.keepAliveTimeoutMs,
    keepAliveMaxTimeout: Math.max(settings.keepAliveTimeoutMs, 1000),
    connect: { timeout: settings.connectTimeoutMs },
    // Timeouts are passed per request (they come from the route and upstream config).
    headersTimeout: 0,
    bodyTimeout: 0,
  })
}
