/** Unit tests for smooth weighted round-robin: interleaving, exact proportions, sitting out. */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { createWeightedBalancer } from '../../../../src/upstream/balancers/weighted.ts'
import { makeTargets } from '../../../conformance/balancer.suite.ts'
import type { TestTarget } from '../../../conformance/balancer.suite.ts'

const NAMES = 'abcdefgh'

function sequence(pick: () => TestTarget | undefined, targets: TestTarget[], n: number): string {
  return Array.from({ length: n }, () => {
    const picked = pick()
    return picked === undefined ? '-' : NAMES[targets.indexOf(picked)]
  }).join('')
}

// `void`: node:test tracks these promises itself; no-floating-promises cannot know that.
void describe('weighted balancer', () => {
  void test('interleaves smoothly: weights 5,1,1 give a a b a c a a, cycle after cycle', () => {
    const targets = makeTargets([5, 1, 1])
    const balancer = createWeightedBalancer(targets)
    assert.equal(
      sequence(() => balancer.pick({}), targets, 21),
      'aabacaa'.repeat(3),
    )
  })

  void test('gives each target exactly its weight in every cycle', () => {
    const weights = [4, 3, 2, 1]
    const targets = makeTargets(weights)
    const balancer = createWeightedBalancer(targets)
    for (let cycle = 0; cycle < 5; cycle++) {
      const counts = [0, 0, 0, 0]
      for (let i = 0; i < 10; i++) counts[targets.indexOf(balancer.pick({})!)]!++
      assert.deepEqual(counts, weights)
    }
  })

  void test('equal weights degrade to plain round-robin', () => {
    const targets = makeTargets([2, 2, 2])
    const balancer = createWeightedBalancer(targets)
    assert.equal(
      sequence(() => balancer.pick({}), targets, 6),
      'abcabc',
    )
  })

  void test('an unavailable target sits out without banking credit for its return', () => {
    const targets = makeTargets([1, 1, 1])
    const balancer = createWeightedBalancer(targets)
    targets[0]!.available = false
    assert.equal(
      sequence(() => balancer.pick({}), targets, 4),
      'bcbc',
    )
    targets[0]!.available = true
    // Had `a` gained weight while down, it would now win several picks in a row.
    assert.equal(
      sequence(() => balancer.pick({}), targets, 6),
      'abcabc',
    )
  })

  void test('a retry skips the tried target and the others keep their proportions', () => {
    const targets = makeTargets([2, 1, 1])
    const balancer = createWeightedBalancer(targets)
    const [a] = targets as [TestTarget]
    assert.equal(
      sequence(() => balancer.pick({ exclude: [a] }), targets, 4),
      'bcbc',
    )
  })
})
