/** Unit tests for the round-robin balancer: order, skipping unavailable targets, retries. */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { createRoundRobinBalancer } from '../../../../src/upstream/balancers/round-robin.ts'
import { makeTargets } from '../../../conformance/balancer.suite.ts'
import type { TestTarget } from '../../../conformance/balancer.suite.ts'

/** The picks as list indexes, `-` for none: '0120' reads a, b, c, a. */
function indexes(
  targets: readonly TestTarget[],
  picks: readonly (TestTarget | undefined)[],
): string {
  return picks.map((pick) => (pick === undefined ? '-' : targets.indexOf(pick))).join('')
}

// `void`: node:test tracks these promises itself; no-floating-promises cannot know that.
void describe('round-robin balancer', () => {
  void test('cycles over the targets in list order, ignoring weights', () => {
    const targets = makeTargets([5, 1, 1])
    const balancer = createRoundRobinBalancer(targets)
    const picks = Array.from({ length: 7 }, () => balancer.pick({}))
    assert.equal(indexes(targets, picks), '0120120')
  })

  void test("spreads a down target's turns over the others instead of doubling its neighbour", () => {
    const targets = makeTargets([1, 1, 1, 1])
    targets[1]!.available = false
    const balancer = createRoundRobinBalancer(targets)
    const picks = Array.from({ length: 9 }, () => balancer.pick({}))
    assert.equal(indexes(targets, picks), '023023023')
  })

  void test('a retry that excludes the last pick gets the next target and the cycle continues', () => {
    const targets = makeTargets([1, 1, 1])
    const balancer = createRoundRobinBalancer(targets)
    const first = balancer.pick({})
    assert.equal(first, targets[0])
    assert.equal(balancer.pick({ exclude: [first!] }), targets[1])
    assert.equal(balancer.pick({}), targets[2])
  })

  void test('reads availability live at each pick', () => {
    const targets = makeTargets([1, 1])
    const balancer = createRoundRobinBalancer(targets)
    targets[0]!.available = false
    assert.equal(indexes(targets, [balancer.pick({}), balancer.pick({})]), '11')
    targets[0]!.available = true
    assert.equal(indexes(targets, [balancer.pick({}), balancer.pick({})]), '01')
  })

  void test('is unaffected by later changes to the array it was built from', () => {
    const targets = makeTargets([1, 1])
    const balancer = createRoundRobinBalancer(targets)
    const removed = targets.pop()
    assert.deepEqual([balancer.pick({}), balancer.pick({})], [targets[0], removed])
  })
})
