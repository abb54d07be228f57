/**
 * GET /upstreams: the upstreams of the running config and the runtime state of each target
 * (availability, health and its last probe, ejections, in-flight requests).
 */
import type { Snapshot } from '../../snapshot/snapshot.ts'

/** One upstream in GET /upstreams. */
export interface UpstreamReport {
  readonly name: string
  readonly balancer: string
  readonly health_check: boolean
  /** Where the targets come from: `static`, or the discovery source (`dns NAME:PORT`, …). */
  readonly discovery: string
  readonly targets: readonly {
    readonly url: string
    readonly weight: number
    readonly available: boolean
    readonly healthy: boolean
    readonly ejected_until: string | null
    readonly ejections: number
    readonly in_flight: number
    readonly last_check: {
      readonly at: string
      readonly ok: boolean
      readonly detail: string
    } | null
  }[]
}

export function upstreamsReport(snapshot: Snapshot | null): UpstreamReport[] {
  if (snapshot === null) return []
  return snapshot.config.upstreams.map((u) => {
    const runtime = snapshot.upstreams.get(u.name)
    return {
      name: u.name,
      balancer: u.balancer,
      health_check: u.healthCheck !== null,
      discovery: runtime?.discovery?.description ?? 'static',
      targets: (runtime?.targets ?? []).map(({ state: s, weight }) => ({
        url: s.origin,
        weight,
        available: s.available,
        healthy: s.healthy,
        ejected_until:
          s.ejectedUntilMs > Date.now() ? new Date(s.ejectedUntilMs).toISOString() : null,
        ejections: s.ejections,
        in_flight: s.inFlight,
        last_check: s.checker?.last ?? null,
      })),
    }
  })
}
