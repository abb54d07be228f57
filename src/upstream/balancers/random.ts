/**
 * Random: each pick chooses an available target with probability proportional to its weight.
 * Stateless apart from the injected random source, so it needs no coordination across workers.
 */
import type { Balancer, BalancerOptions, Pickable, PickInput } from './balancer.ts'
import { Tier, candidateTier, isCandidate, isPreferred } from './candidates.ts'

class RandomBalancer<T extends Pickable> implements Balancer<T> {
  readonly #targets: readonly T[]
  readonly #random: () => number
  /** `#cumulative[i]` is the sum of the weights of targets 0..i; built once, searched per pick. */
  readonly #cumulative: Float64Array

  constructor(targets: readonly T[], random: () => number) {
    this.#targets = targets
    this.#random = random
    this.#cumulative = new Float64Array(targets.length)
    let sum = 0
    targets.forEach((target, index) => {
      sum += target.weight
      this.#cumulative[index] = sum
    })
  }

  pick(input: PickInput<T>): T | undefined {
    const count = this.#targets.length
    if (count === 0) return undefined
    // hot path: draw over all targets by binary search and keep the draw when it is acceptable.
    // Redrawing over the acceptable ones otherwise gives each exactly weight / acceptable weight
    // (rejection sampling), so the fast path costs no accuracy.
    const total = this.#cumulative[count - 1] as number
    const target = this.#targets[this.#search(this.#random() * total)] as T
    if (isPreferred(target, input.exclude)) return target
    return this.#pickAmong(input.exclude)
  }

  /** First index whose cumulative weight exceeds `point` (0 <= point < total). */
  #search(point: number): number {
    const cumulative = this.#cumulative
    let low = 0
    let high = cumulative.length - 1
    while (low < high) {
      const middle = (low + high) >>> 1
      if ((cumulative[middle] as number) > point) high = middle
      else low = middle + 1
    }
    return low
  }

  /** Slow path: weighted draw restricted to the best candidate tier; two linear scans. */
  #pickAmong(exclude: readonly T[] | undefined): T | undefined {
    const targets = this.#targets
    const tier = candidateTier(targets, exclude)
    if (tier === Tier.NONE) return undefined
    let total = 0
    for (const target of targets) if (isCandidate(target, exclude, tier)) total += target.weight
    let point = this.#random() * total
    let last: T | undefined
    for (const target of targets) {
      if (!isCandidate(target, exclude, tier)) continue
      point -= target.weight
      if (point < 0) return target
      last = target
    }
    // Only reachable through floating-point rounding at the very top of the range.
    return last
  }
}

/**
 * A balancer that picks an available target at random, weighted by `weight`. Allocation-free;
 * O(log n) per pick when the draw lands on an acceptable target, O(n) otherwise.
 */
export function createRandomBalancer<T extends Pickable>(
  targets: readonly T[],
  options: BalancerOptions = {},
): Balancer<T> {
  return new RandomBalancer(Array.from(targets), options.random ?? Math.random)
}
