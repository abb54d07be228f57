/**
 * Runtime state of one upstream target: in-flight count, health, ejection. It belongs to the
 * registry and outlives snapshots, so a reload that keeps a target keeps its state (Caddy's
 * `Host` as opposed to its config `Upstream`).
 */
import type { HealthChecker } from './health-check.ts'

export class TargetState {
  /** Identity within the registry: `<upstream>\u0000<origin>`. */
  readonly id: string
  readonly upstream: string
  readonly origin: string
  /** Requests currently in flight to this target (all snapshots together). */
  inFlight = 0
  /** Set by active health checks; true until a check says otherwise. */
  healthy = true
  /** Epoch ms until which passive outlier detection keeps the target out; 0 = not ejected. */
  ejectedUntilMs = 0
  consecutiveFailures = 0
  /** Times passive outlier detection ejected this target (GET /upstreams). */
  ejections = 0
  /** The active health checker, when the upstream has `health_check`. */
  checker: HealthChecker | null = null

  constructor(upstream: string, origin: string) {
    this.id = stateId(upstream, origin)
    this.upstream = upstream
    this.origin = origin
  }

  /** True when the target may receive traffic now. */
  get available(): boolean {
    // hot path: Date.now() only while an ejection is pending; an expired one is cleared
    if (this.ejectedUntilMs !== 0) {
      if (this.ejectedUntilMs > Date.now()) return false
      this.ejectedUntilMs = 0
    }
    return this.healthy
  }
}

/** The registry key of a target of an upstream. */
export function stateId(upstream: string, origin: string): string {
  return `${upstream}\u0000${origin}`
}
