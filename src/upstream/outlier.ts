/**
 * Passive outlier detection (SPEC §3, `outlier` of an upstream): every proxied attempt reports
 * whether the target failed it (connection refused or reset, timeout, a 5xx answer). After
 * `consecutive_failures` failures in a row a target is ejected for `ejection_time`, and comes
 * back by itself when the time is up. At most `max_ejection_percent` of the upstream's targets
 * are ejected at once (rounded down, but at least one when the percentage is above 0, as Envoy
 * does, so that a two-target upstream can still eject its broken half), and never the last
 * available target: an upstream whose every target fails keeps trying them rather than answering
 * 503 without a connection attempt for `ejection_time`.
 */
import type { TargetState } from './target-state.ts'

/** The `outlier` settings (repeated structurally: upstream imports nothing of config). */
export interface OutlierSettings {
  readonly consecutiveFailures: number
  readonly ejectionTimeMs: number
  readonly maxEjectionPercent: number
}

/** Told of every ejection. */
export type OnEjection = (state: TargetState, untilMs: number) => void

export class OutlierDetector {
  readonly #settings: OutlierSettings
  readonly #states: readonly TargetState[]
  readonly #members: ReadonlySet<TargetState>
  readonly #onEjection: OnEjection

  constructor(settings: OutlierSettings, states: readonly TargetState[], onEjection: OnEjection) {
    this.#settings = settings
    this.#states = states
    this.#members = new Set(states)
    this.#onEjection = onEjection
  }

  /** The outcome of one attempt on `state`'s target: hot path, no allocation. */
  record(state: TargetState, failed: boolean): void {
    if (!failed) {
      state.consecutiveFailures = 0
      return
    }
    // Requests still in flight when it was ejected do not count against its next turn.
    if (state.ejectedUntilMs !== 0 && state.ejectedUntilMs > Date.now()) return
    state.consecutiveFailures++
    if (state.consecutiveFailures < this.#settings.consecutiveFailures) return
    // A late outcome of a target that discovery has since removed: nothing to eject.
    if (!this.#members.has(state)) return
    const now = Date.now()
    if (this.#ejectedCount(now) >= this.#maxEjected()) return
    if (!this.#othersAvailable(state)) return
    state.ejectedUntilMs = now + this.#settings.ejectionTimeMs
    state.consecutiveFailures = 0
    state.ejections++
    this.#onEjection(state, state.ejectedUntilMs)
  }

  #maxEjected(): number {
    const share = Math.floor((this.#states.length * this.#settings.maxEjectionPercent) / 100)
    return this.#settings.maxEjectionPercent > 0 ? Math.max(1, share) : 0
  }

  #othersAvailable(state: TargetState): boolean {
    for (const s of this.#states) if (s !== state && s.available) return true
    return false
  }

  #ejectedCount(now: number): number {
    let n = 0
    for (const s of this.#states) if (s.ejectedUntilMs > now) n++
    return n
  }
}
