/**
 * Round-robin: cycles over the available targets in list order and ignores weights. The cursor
 * belongs to this balancer, so it restarts at the first target after each reload.
 */
import type { Balancer, BalancerOptions, Pickable, PickInput } from './balancer.ts'
import { isPreferred } from './candidates.ts'

class RoundRobinBalancer<T extends Pickable> implements Balancer<T> {
  readonly #targets: readonly T[]
  #cursor = 0

  constructor(targets: readonly T[]) {
    this.#targets = targets
  }

  pick(input: PickInput<T>): T | undefined {
    const targets = this.#targets
    const count = targets.length
    const exclude = input.exclude
    let fallback = -1
    // hot path: when every target is up and nothing is excluded this returns on the first step
    for (let step = 0; step < count; step++) {
      const index = (this.#cursor + step) % count
      const target = targets[index] as T
      if (isPreferred(target, exclude)) return this.#advance(index, target)
      if (fallback < 0 && target.available) fallback = index
    }
    return fallback < 0 ? undefined : this.#advance(fallback, targets[fallback] as T)
  }

  #advance(index: number, target: T): T {
    // Resume after the chosen target rather than after the old cursor: a down target's turn then
    // rotates over the others instead of doubling the share of its next neighbour (Caddy's
    // round_robin, which bumps the counter by one, has that skew).
    this.#cursor = index + 1 === this.#targets.length ? 0 : index + 1
    return target
  }
}

/**
 * A balancer that takes available targets in turn, ignoring `weight`. Allocation-free; O(1) per
 * pick while the next target is acceptable, O(n) when it must skip unavailable or tried ones.
 */
export function createRoundRobinBalancer<T extends Pickable>(
  targets: readonly T[],
  _options: BalancerOptions = {},
): Balancer<T> {
  return new RoundRobinBalancer(Array.from(targets))
}
