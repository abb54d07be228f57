/**
 * Weighted: nginx's smooth weighted round-robin. Over every cycle of `sum(weight)` picks each
 * target is chosen exactly `weight` times, interleaved rather than in runs (5,1,1 → a a b a c a a).
 * Unavailable and excluded targets sit out a pick without gaining credit, as in nginx.
 */
import type { Balancer, BalancerOptions, Pickable, PickInput } from './balancer.ts'
import { isPreferred } from './candidates.ts'

class WeightedBalancer<T extends Pickable> implements Balancer<T> {
  readonly #targets: readonly T[]
  /** nginx's `current_weight` per target, by index. */
  readonly #current: Float64Array

  constructor(targets: readonly T[]) {
    this.#targets = targets
    this.#current = new Float64Array(targets.length)
  }

  pick(input: PickInput<T>): T | undefined {
    const exclude = input.exclude
    // hot path: one pass over a typed array; the second pass runs only for a retry that has
    // already tried every available target
    let best = this.#step(exclude, true)
    if (best < 0 && exclude !== undefined) best = this.#step(exclude, false)
    return best < 0 ? undefined : this.#targets[best]
  }

  /**
   * One round of smooth WRR over the candidates (preferred ones, or every available one when
   * `preferredOnly` is false): each gains its weight, the largest wins and pays back the total.
   * Returns the winner's index, or -1 when there is no candidate. Ties go to the earlier target.
   */
  #step(exclude: readonly T[] | undefined, preferredOnly: boolean): number {
    const targets = this.#targets
    const current = this.#current
    let total = 0
    let best = -1
    let bestWeight = -Infinity
    for (let index = 0; index < targets.length; index++) {
      const target = targets[index] as T
      if (preferredOnly ? !isPreferred(target, exclude) : !target.available) continue
      const weight = (current[index] as number) + target.weight
      current[index] = weight
      total += target.weight
      if (weight > bestWeight) {
        best = index
        bestWeight = weight
      }
    }
    if (best >= 0) current[best] = bestWeight - total
    return best
  }
}

/**
 * A balancer that spreads picks over available targets in exact proportion to `weight` (smooth
 * weighted round-robin). Allocation-free; O(n) per pick. State restarts on each reload.
 */
export function createWeightedBalancer<T extends Pickable>(
  targets: readonly T[],
  _options: BalancerOptions = {},
): Balancer<T> {
  return new WeightedBalancer(Array.from(targets))
}
