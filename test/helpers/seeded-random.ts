/**
 * Deterministic random numbers for tests (STYLE.md §H: randomness through an injected seeded
 * source). mulberry32: tiny, fast, and good enough for load-balancing statistics.
 */

/**
 * A uniform [0, 1) source that yields the same sequence for the same 32-bit `seed`; a drop-in
 * for `Math.random` in `BalancerOptions.random`.
 */
export function createSeededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
