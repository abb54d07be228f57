/**
 * The one implementation of UpstreamRuntime: an upstream's targets for one snapshot, as registry
 * leases (pool + live state) behind a balancer and an outlier detector. Static targets are set
 * once at build. With discovery the runtime follows the source: each change acquires the new
 * targets first, then swaps targets, balancer and detector in one synchronous step, then
 * releases the targets that left, so a target that stays keeps its pool, its sockets and its
 * health, nothing else in the snapshot is rebuilt, and requests already on a target that left
 * finish on it (its pool closes gracefully).
 */
import type { BalancerName, HashKey, OutlierConfig } from '../config/types.ts'
import { createBalancer } from '../upstream/balancers/index.ts'
import type { Balancer } from '../upstream/balancers/balancer.ts'
import type { DiscoveryLease } from '../discovery/hub.ts'
import type { DiscoveredTarget, DiscoverySource } from '../discovery/source.ts'
import { OutlierDetector, type OnEjection } from '../upstream/outlier.ts'
import type { PoolSettings, TargetLease, UpstreamRegistry } from '../upstream/registry.ts'
import { TargetRef, type UpstreamRuntime } from './route-entry.ts'

export interface RuntimeSettings {
  readonly name: string
  readonly balancer: BalancerName
  readonly hashKey: HashKey | null
  readonly outlier: OutlierConfig | null
  readonly pool: PoolSettings
}

export interface RuntimeDeps {
  readonly registry: UpstreamRegistry
  readonly random?: () => number
  readonly onEjection: OnEjection
}

export class UpstreamTargets implements UpstreamRuntime {
  readonly name: string
  readonly hashKey: HashKey | null
  targets: readonly TargetRef[] = []
  balancer: Balancer<TargetRef>
  outlier: OutlierDetector | null = null
  readonly discovery: DiscoverySource | null
  readonly #settings: RuntimeSettings
  readonly #deps: RuntimeDeps
  /** Held leases by origin (at most one per origin, whatever its weight). */
  #leases = new Map<string, TargetLease>()
  /** Where the targets come from (released with the runtime), or null for static targets. */
  #discoveryLease: DiscoveryLease | null
  #unsubscribe: (() => void) | null = null
  #disposed = false

  constructor(
    settings: RuntimeSettings,
    deps: RuntimeDeps,
    targets: readonly DiscoveredTarget[],
    discovery: DiscoveryLease | null = null,
  ) {
    this.name = settings.name
    this.hashKey = settings.hashKey
    this.#settings = settings
    this.#deps = deps
    this.#discoveryLease = discovery
    this.discovery = discovery?.source ?? null
    this.balancer = this.#balancerOver([])
    try {
      this.setTargets(discovery === null ? targets : (discovery.source.targets ?? []))
    } catch (err) {
      this.dispose()
      throw err
    }
    if (discovery !== null) {
      this.#unsubscribe = discovery.source.subscribe((found) => this.setTargets(found))
    }
  }

  /** Makes `targets` the upstream's targets (see the module comment for the order). */
  setTargets(targets: readonly DiscoveredTarget[]): void {
    if (this.#disposed) return
    const held = this.#leases
    const next = new Map<string, TargetLease>()
    const refs: TargetRef[] = []
    const byOrigin = new Map(this.targets.map((t) => [t.key, t]))
    try {
      for (const target of targets) {
        if (next.has(target.origin)) continue
        const lease =
          held.get(target.origin) ??
          this.#deps.registry.acquire(this.name, target.origin, this.#settings.pool)
        next.set(target.origin, lease)
        const kept = byOrigin.get(target.origin)
        // The same object for a target that stays, its weight updated in place: a retry's
        // "already tried" list compares objects, and the balancer is rebuilt below anyway.
        if (kept === undefined) refs.push(new TargetRef(target.weight, lease.state, lease.pool))
        else {
          kept.weight = target.weight
          refs.push(kept)
        }
      }
    } catch (err) {
      for (const [origin, lease] of next) if (!held.has(origin)) lease.release()
      throw err
    }
    this.targets = refs
    this.balancer = this.#balancerOver(refs)
    this.outlier = this.#outlierOver(refs)
    this.#leases = next
    for (const [origin, lease] of held) if (!next.has(origin)) lease.release()
  }

  dispose(): void {
    if (this.#disposed) return
    this.#disposed = true
    this.#unsubscribe?.()
    this.#unsubscribe = null
    for (const lease of this.#leases.values()) lease.release()
    this.#leases = new Map()
    this.#discoveryLease?.release()
    this.#discoveryLease = null
  }

  #balancerOver(refs: readonly TargetRef[]): Balancer<TargetRef> {
    const random = this.#deps.random
    return createBalancer(this.#settings.balancer, refs, random === undefined ? {} : { random })
  }

  #outlierOver(refs: readonly TargetRef[]): OutlierDetector | null {
    const settings = this.#settings.outlier
    if (settings === null) return null
    return new OutlierDetector(
      settings,
      refs.map((t) => t.state),
      this.#deps.onEjection,
    )
  }
}
