/** Unit tests for the consistent-hash ring: stickiness, minimal disruption, walks, the hash. */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import {
  MAX_RING_POINTS,
  createConsistentHashBalancer,
  hashString,
} from '../../../../src/upstream/balancers/consistent-hash.ts'
import { makeTargets } from '../../../conformance/balancer.suite.ts'
import type { TestTarget } from '../../../conformance/balancer.suite.ts'
import { createSeededRandom } from '../../../helpers/seeded-random.ts'

const KEYS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`)

/** Which target key each hash key maps to. */
function owners(targets: readonly TestTarget[], exclude?: readonly TestTarget[]): string[] {
  const balancer = createConsistentHashBalancer(targets, { random: createSeededRandom(1) })
  return KEYS.map((hashKey) => balancer.pick({ hashKey, exclude })!.key)
}

// `void`: node:test tracks these promises itself; no-floating-promises cannot know that.
void describe('consistent-hash balancer', () => {
  void test('sends every request with the same key to the same target', () => {
    const targets = makeTargets([1, 1, 1, 1, 1])
    const balancer = createConsistentHashBalancer(targets, { random: createSeededRandom(2) })
    for (const hashKey of KEYS.slice(0, 1_000)) {
      const first = balancer.pick({ hashKey })
      for (let i = 0; i < 5; i++) assert.equal(balancer.pick({ hashKey }), first)
    }
  })

  void test('maps keys by target identity, not by list order or balancer instance', () => {
    const targets = makeTargets([1, 2, 1, 3])
    assert.deepEqual(owners([...targets].reverse()), owners(targets))
  })

  void test('removing 1 of 5 targets moves only the keys it owned (~1/5)', () => {
    const targets = makeTargets([1, 1, 1, 1, 1])
    const before = owners(targets)
    const removed = targets[2]!.key
    const after = owners(targets.filter((target) => target.key !== removed))
    let moved = 0
    KEYS.forEach((_, i) => {
      if (before[i] === after[i]) return
      moved++
      assert.equal(before[i], removed, `${KEYS[i]} moved away from a target that stayed`)
    })
    assert.ok(moved <= 0.3 * KEYS.length, `${moved} of ${KEYS.length} keys moved`)
    assert.equal(moved, before.filter((key) => key === removed).length)
  })

  void test('adding a sixth target takes keys only for itself', () => {
    const targets = makeTargets([1, 1, 1, 1, 1, 1])
    const before = owners(targets.slice(0, 5))
    const after = owners(targets)
    const added = targets[5]!.key
    let moved = 0
    KEYS.forEach((_, i) => {
      if (before[i] === after[i]) return
      moved++
      assert.equal(after[i], added)
    })
    assert.ok(moved > 0.1 * KEYS.length && moved < 0.25 * KEYS.length, `${moved} moved`)
  })

  void test("an unavailable owner's keys walk clockwise and return when it recovers", () => {
    const targets = makeTargets([1, 1, 1, 1, 1])
    const before = owners(targets)
    targets[3]!.available = false
    // Same result as removing it from the ring: down and removed behave alike.
    const down = owners(targets)
    assert.deepEqual(down, owners(targets.filter((_, i) => i !== 3)))
    targets[3]!.available = true
    assert.deepEqual(owners(targets), before)
  })

  void test('a retry excluding the owner goes to its ring successor, the same one each time', () => {
    const targets = makeTargets([1, 1, 1, 1])
    const balancer = createConsistentHashBalancer(targets, { random: createSeededRandom(3) })
    for (const hashKey of KEYS.slice(0, 500)) {
      const owner = balancer.pick({ hashKey })!
      const retry = balancer.pick({ hashKey, exclude: [owner] })
      assert.notEqual(retry, owner)
      assert.equal(balancer.pick({ hashKey, exclude: [owner] }), retry)
      owner.available = false
      assert.equal(balancer.pick({ hashKey }), retry, 'down and excluded walk to the same target')
      owner.available = true
    }
  })

  void test('weight scales the share of keys a target owns', () => {
    const targets = makeTargets([1, 3])
    const counts = owners(targets).filter((key) => key === targets[1]!.key).length
    assert.ok(Math.abs(counts / KEYS.length - 0.75) < 0.05, `heavy target owns ${counts}`)
  })

  void test('without a hash key, spreads requests by weighted random', () => {
    const targets = makeTargets([1, 1, 2])
    const balancer = createConsistentHashBalancer(targets, { random: createSeededRandom(4) })
    const counts = [0, 0, 0]
    for (let i = 0; i < 20_000; i++) counts[targets.indexOf(balancer.pick({})!)]!++
    ;[0.25, 0.25, 0.5].forEach((want, i) => {
      assert.ok(Math.abs(counts[i]! / 20_000 - want) < 0.02, `target ${i}: ${counts[i]}`)
    })
  })

  void test('an empty string is a hash key like any other, not a missing one', () => {
    const targets = makeTargets([1, 1, 1])
    const balancer = createConsistentHashBalancer(targets, { random: createSeededRandom(5) })
    const first = balancer.pick({ hashKey: '' })
    for (let i = 0; i < 20; i++) assert.equal(balancer.pick({ hashKey: '' }), first)
  })

  void test('still honours proportions when extreme weights scale the ring down', () => {
    const targets = makeTargets([10_000, 30_000])
    assert.ok(40_000 * 160 > MAX_RING_POINTS, 'precondition: these weights exceed the cap')
    const heavy = owners(targets).filter((key) => key === targets[1]!.key).length
    assert.ok(Math.abs(heavy / KEYS.length - 0.75) < 0.02, `heavy target owns ${heavy}`)
  })
})

void describe('hashString', () => {
  void test('is an unsigned 32-bit integer, stable across calls', () => {
    for (const input of ['', 'a', 'user-1', 'http://10.0.0.1:80#159', 'ünïcødé ☃']) {
      const hash = hashString(input)
      assert.ok(Number.isInteger(hash) && hash >= 0 && hash < 2 ** 32, `${input} → ${hash}`)
      assert.equal(hashString(input), hash)
    }
  })

  void test('matches reference values (FNV-1a, then murmur3 fmix32)', () => {
    // FNV-1a("") = 0x811c9dc5, FNV-1a("a") = 0xe40c292c, FNV-1a("foobar") = 0xbf9cf968 (the
    // published test vectors), each passed through fmix32.
    assert.equal(hashString(''), fmix32(0x811c9dc5))
    assert.equal(hashString('a'), fmix32(0xe40c292c))
    assert.equal(hashString('foobar'), fmix32(0xbf9cf968))
  })

  void test('scatters near-identical inputs evenly over the ring', () => {
    // 16 equal buckets of the 32-bit space; 16,000 sequential vnode names; each bucket ~1,000.
    const buckets = new Array<number>(16).fill(0)
    for (let i = 0; i < 16_000; i++) buckets[hashString(`http://10.0.0.1:80#${i}`) >>> 28]!++
    for (const count of buckets) assert.ok(count > 850 && count < 1_150, `bucket ${count}`)
  })
})

/** murmur3's finaliser, written out independently of the implementation under test. */
function fmix32(input: number): number {
  let h = input >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0
  return (h ^ (h >>> 16)) >>> 0
}
