/**
 * The one interface every load-balancing policy implements. A balancer is built once per
 * snapshot per upstream from that upstream's targets and then only picks: no I/O, no timers.
 * Health and in-flight counts are read live from the targets (they belong to the registry and
 * outlive snapshots); the balancer's own state (a round-robin cursor, a hash ring) does not.
 */

/** What a balancer needs to know about a target; the registry's target state satisfies it. */
export interface Pickable {
  /** Stable identity (the target's origin); consistent-hash places targets by it. */
  readonly key: string
  /** Positive integer weight from the config. */
  readonly weight: number
  /** Requests currently in flight to this target (least-request reads it). */
  readonly inFlight: number
  /** False while the target is unhealthy or ejected: it must not be picked then. */
  readonly available: boolean
}

/** Per-request input to a pick. */
export interface PickInput<T extends Pickable> {
  /** The consistent-hash key for this request (header, cookie, client ip or path); else ignored. */
  readonly hashKey?: string | undefined
  /** Targets already tried by this request: pick another if any available one remains. */
  readonly exclude?: readonly T[] | undefined
}

export interface Balancer<T extends Pickable> {
  /**
   * One target that is `available`, preferring those not in `exclude`; an excluded target is
   * returned only when no other available target exists. `undefined` when none is available.
   */
  pick(input: PickInput<T>): T | undefined
}

export interface BalancerOptions {
  /** Uniform [0, 1) source; injected so tests are deterministic. Defaults to Math.random. */
  readonly random?: () => number
}

export type BalancerFactory = <T extends Pickable>(
  targets: readonly T[],
  options: BalancerOptions,
) => Balancer<T>
