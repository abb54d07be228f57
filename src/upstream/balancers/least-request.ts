/**
 * Least-request: power of two choices on in-flight requests. Two distinct random candidates are
 * drawn and the one with fewer requests in flight wins, which tracks the least loaded target
 * almost as well as a full scan without herding every request onto the same momentary minimum.
 * Weights are ignored: Envoy's weighted variant scores weight / (in-flight + 1)^bias, which can be
 * added here when a config needs it; the config rejects nothing, the weights simply do not count.
 */
import type { Balancer, BalancerOptions, Pickable, PickInput } from './balancer.ts'
import { Tier, candidateTier, isCandidate, isPreferred } from './candidates.ts'

class LeastRequestBalancer<T extends Pickable> implements Balancer<T> {
  readonly #targets: readonly T[]
  readonly #random: () => number

  constructor(targets: readonly T[], random: () => number) {
    this.#targets = targets
    this.#random = random
  }

  pick(input: PickInput<T>): T | undefined {
    const targets = this.#targets
    const exclude = input.exclude
    if (targets.length >= 2) {
      // hot path: draw the pair over all targets and keep it when both are acceptable; otherwise
      // redraw among the acceptable ones, which leaves every acceptable pair equally likely
      const first = this.#draw(targets.length)
      const a = targets[first] as T
      const b = targets[this.#drawOther(first, targets.length)] as T
      if (isPreferred(a, exclude) && isPreferred(b, exclude)) return lessLoaded(a, b)
    }
    return this.#pickAmong(exclude)
  }

  /** A uniform index in [0, count). */
  #draw(count: number): number {
    return Math.floor(this.#random() * count)
  }

  /** A uniform index in [0, count) other than `first`, count >= 2. */
  #drawOther(first: number, count: number): number {
    // Draw among count - 1 slots and shift past `first`: distinct without a retry loop, and
    // two numbers instead of a tuple so the hot path allocates nothing.
    const second = this.#draw(count - 1)
    return second >= first ? second + 1 : second
  }

  /** Slow path: P2C among the best candidate tier, by rank, without building a filtered list. */
  #pickAmong(exclude: readonly T[] | undefined): T | undefined {
    const targets = this.#targets
    const tier = candidateTier(targets, exclude)
    if (tier === Tier.NONE) return undefined
    let count = 0
    for (const target of targets) if (isCandidate(target, exclude, tier)) count++
    if (count === 1) return this.#nth(exclude, tier, 0)
    const first = this.#draw(count)
    const second = this.#drawOther(first, count)
    return lessLoaded(this.#nth(exclude, tier, first) as T, this.#nth(exclude, tier, second) as T)
  }

  /** The `rank`-th candidate of `tier` in list order. */
  #nth(exclude: readonly T[] | undefined, tier: Tier, rank: number): T | undefined {
    let seen = 0
    for (const target of this.#targets) {
      if (!isCandidate(target, exclude, tier)) continue
      if (seen === rank) return target
      seen++
    }
    return undefined
  }
}

/** The target with fewer requests in flight; `a` on a tie (already a random choice). */
function lessLoaded<T extends Pickable>(a: T, b: T): T {
  return b.inFlight < a.inFlight ? b : a
}

/**
 * A balancer that sends each request to the less loaded (by `inFlight`) of two random available
 * targets. Ignores `weight`. O(1) per pick while both draws are acceptable, O(n) otherwise.
 */
export function createLeastRequestBalancer<T extends Pickable>(
  targets: readonly T[],
  options: BalancerOptions = {},
): Balancer<T> {
  return new LeastRequestBalancer(Array.from(targets), options.random ?? Math.random)
}
