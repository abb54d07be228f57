/**
 * Shared candidate rules for every balancer: never an unavailable target; prefer targets the
 * request has not tried yet; fall back to an already-tried one only when nothing else is up.
 * Pure and allocation-free so balancers can call it on the hot path.
 */
import type { Pickable } from './balancer.ts'

/**
 * Which targets a pick may choose from, best first: `PREFERRED` (available and not excluded),
 * `AVAILABLE` (available, some excluded: a retry that must reuse a tried target) or `NONE`.
 */
export const Tier = {
  NONE: 0,
  AVAILABLE: 1,
  PREFERRED: 2,
} as const
export type Tier = (typeof Tier)[keyof typeof Tier]

/** True when `target` is available and not among the targets this request already tried. */
export function isPreferred<T extends Pickable>(
  target: T,
  exclude: readonly T[] | undefined,
): boolean {
  // hot path: `exclude` is absent or holds one or two targets, so `includes` beats building a Set
  return target.available && (exclude === undefined || !exclude.includes(target))
}

/** True when `target` belongs to the candidates of `tier` (see `candidateTier`). */
export function isCandidate<T extends Pickable>(
  target: T,
  exclude: readonly T[] | undefined,
  tier: Tier,
): boolean {
  return tier === Tier.PREFERRED ? isPreferred(target, exclude) : target.available
}

/**
 * The best tier any target reaches right now. One linear scan; balancers call it only off their
 * fast path (after the target they would normally choose turned out unavailable or excluded).
 */
export function candidateTier<T extends Pickable>(
  targets: readonly T[],
  exclude: readonly T[] | undefined,
): Tier {
  let tier: Tier = Tier.NONE
  for (const target of targets) {
    if (!target.available) continue
    if (exclude === undefined || !exclude.includes(target)) return Tier.PREFERRED
    tier = Tier.AVAILABLE
  }
  return tier
}
