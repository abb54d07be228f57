/**
 * Consistent hash: a ring of virtual nodes (`VNODES_PER_WEIGHT` × weight per target, placed by
 * hashing `key#i`), looked up by binary search on the hash of the request's hash key. A request
 * goes to the owner of the first point at or after its hash; removing one of N targets moves only
 * the ~1/N of keys it owned. Requests without a hash key are spread by weighted random.
 */
import type { Balancer, BalancerOptions, Pickable, PickInput } from './balancer.ts'
import { Tier, candidateTier, isCandidate, isPreferred } from './candidates.ts'
import { createRandomBalancer } from './random.ts'

/** Ring points per unit of weight; 160 is the ketama / nginx `hash … consistent` figure. */
export const VNODES_PER_WEIGHT = 160

/**
 * Upper bound on ring points (~1 MiB of typed arrays). Past it the points per weight shrink in
 * proportion, so an extreme config (thousands of heavy targets) cannot stall a reload.
 */
export const MAX_RING_POINTS = 131_072

class ConsistentHashBalancer<T extends Pickable> implements Balancer<T> {
  readonly #targets: readonly T[]
  /** Point positions on the 32-bit ring, ascending. */
  readonly #points: Uint32Array
  /** `#owners[i]` is the index in `#targets` of the target owning `#points[i]`. */
  readonly #owners: Uint32Array
  readonly #fallback: Balancer<T>

  constructor(targets: readonly T[], options: BalancerOptions) {
    this.#targets = targets
    this.#fallback = createRandomBalancer(targets, options)
    const ring = buildRing(targets)
    this.#points = ring.points
    this.#owners = ring.owners
  }

  pick(input: PickInput<T>): T | undefined {
    if (input.hashKey === undefined) return this.#fallback.pick(input)
    if (this.#points.length === 0) return undefined
    const start = this.#search(hashString(input.hashKey))
    // hot path: the owner is up and untried; no scan, no allocation
    const owner = this.#targets[this.#owners[start] as number] as T
    if (isPreferred(owner, input.exclude)) return owner
    return this.#walk(start, input.exclude)
  }

  /** Index of the first point >= `hash`, wrapping to 0 past the last point. */
  #search(hash: number): number {
    const points = this.#points
    let low = 0
    let high = points.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if ((points[middle] as number) < hash) low = middle + 1
      else high = middle
    }
    return low === points.length ? 0 : low
  }

  /**
   * Slow path: clockwise from `start` to the first point whose owner is a candidate of the best
   * tier, so an unavailable target's keys spread over its ring successors and come back to it
   * when it recovers. Terminates early because every target owns at least one point.
   */
  #walk(start: number, exclude: readonly T[] | undefined): T | undefined {
    const tier = candidateTier(this.#targets, exclude)
    if (tier === Tier.NONE) return undefined
    const length = this.#points.length
    for (let step = 0; step < length; step++) {
      const index = start + step < length ? start + step : start + step - length
      const target = this.#targets[this.#owners[index] as number] as T
      if (isCandidate(target, exclude, tier)) return target
    }
    return undefined
  }
}

/**
 * 2^21: room for the owner index below the hash in a packed ring entry (2^32 × 2^21 = 2^53, the
 * exact-integer limit of a double); so up to ~2 million targets per upstream.
 */
const OWNER_SPACE = 2 ** 21

/** Sorted ring points and their owners for `targets`. */
function buildRing<T extends Pickable>(
  targets: readonly T[],
): { points: Uint32Array; owners: Uint32Array } {
  const totalWeight = targets.reduce((sum, target) => sum + target.weight, 0)
  const perWeight = Math.min(VNODES_PER_WEIGHT, MAX_RING_POINTS / Math.max(totalWeight, 1))
  const counts = targets.map((target) => Math.max(1, Math.floor(target.weight * perWeight)))
  // Pack hash (32 bits) and owner index (<= 21 bits) into one exact double so a plain numeric
  // typed-array sort orders the ring: no comparator calls on up to MAX_RING_POINTS entries.
  const packed = new Float64Array(counts.reduce((sum, count) => sum + count, 0))
  let at = 0
  targets.forEach((target, index) => {
    const count = counts[index] as number
    for (let vnode = 0; vnode < count; vnode++) {
      packed[at++] = hashString(`${target.key}#${vnode}`) * OWNER_SPACE + index
    }
  })
  packed.sort()
  const points = new Uint32Array(packed.length)
  const owners = new Uint32Array(packed.length)
  packed.forEach((value, index) => {
    owners[index] = value % OWNER_SPACE
    points[index] = (value - (value % OWNER_SPACE)) / OWNER_SPACE
  })
  return { points, owners }
}

/**
 * A fast, non-cryptographic 32-bit string hash: FNV-1a over UTF-16 code units (equal to byte-wise
 * FNV-1a for ASCII) followed by murmur3's fmix32 finaliser, because plain FNV-1a scatters
 * near-identical inputs such as `key#1`, `key#2` poorly over the ring. Not for untrusted-input
 * hash tables: it is neither keyed nor collision resistant.
 */
export function hashString(input: string): number {
  let hash = 0x811c9dc5
  for (let index = 0; index < input.length; index++) {
    hash ^= input.charCodeAt(index)
    hash = Math.imul(hash, 0x01000193)
  }
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  hash ^= hash >>> 16
  return hash >>> 0
}

/**
 * A balancer that sends every request with the same `hashKey` to the same target while it is
 * available (sticky sessions, cache affinity), moving only ~1/N of keys when one of N targets
 * leaves. Without a `hashKey` it picks by weighted random. O(log points) per pick.
 */
export function createConsistentHashBalancer<T extends Pickable>(
  targets: readonly T[],
  options: BalancerOptions = {},
): Balancer<T> {
  return new ConsistentHashBalancer(Array.from(targets), options)
}
