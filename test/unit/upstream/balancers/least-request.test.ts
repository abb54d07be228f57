/** Unit tests for the power-of-two-choices least-request balancer. */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { createLeastRequestBalancer } from '../../../../src/upstream/balancers/least-request.ts'
import { makeTargets } from '../../../conformance/balancer.suite.ts'
import type { TestTarget } from '../../../conformance/balancer.suite.ts'
import { createSeededRandom } from '../../../helpers/seeded-random.ts'

function countPicks(
  pick: () => TestTarget | undefined,
  targets: TestTarget[],
  n: number,
): number[] {
  const counts = targets.map(() => 0)
  for (let i = 0; i < n; i++) counts[targets.indexOf(pick()!)]!++
  return counts
}

// `void`: node:test tracks these promises itself; no-floating-promises cannot know that.
void describe('least-request balancer', () => {
  void test('of two targets always picks the one with fewer requests in flight', () => {
    const targets = makeTargets([1, 1])
    targets[0]!.inFlight = 7
    targets[1]!.inFlight = 2
    const balancer = createLeastRequestBalancer(targets, { random: createSeededRandom(1) })
    assert.deepEqual(
      countPicks(() => balancer.pick({}), targets, 100),
      [0, 100],
    )
  })

  void test('never picks the single most loaded target while two others are up', () => {
    const targets = makeTargets([1, 1, 1])
    targets[0]!.inFlight = 0
    targets[1]!.inFlight = 5
    targets[2]!.inFlight = 10
    const balancer = createLeastRequestBalancer(targets, { random: createSeededRandom(2) })
    const [idle, busy, busiest] = countPicks(() => balancer.pick({}), targets, 30_000)
    assert.equal(busiest, 0)
    // The idle target wins every pair it is drawn into: 2 pairs of 3, so ~2/3 of the picks.
    assert.ok(Math.abs(idle! / 30_000 - 2 / 3) < 0.02, `idle share ${idle! / 30_000}`)
    assert.ok(Math.abs(busy! / 30_000 - 1 / 3) < 0.02, `busy share ${busy! / 30_000}`)
  })

  void test('reads in-flight counts live at each pick', () => {
    const targets = makeTargets([1, 1])
    const balancer = createLeastRequestBalancer(targets, { random: createSeededRandom(3) })
    targets[0]!.inFlight = 1
    assert.equal(balancer.pick({}), targets[1])
    targets[1]!.inFlight = 2
    assert.equal(balancer.pick({}), targets[0])
  })

  void test('compares load among the available targets only', () => {
    const targets = makeTargets([1, 1, 1, 1])
    targets[0]!.available = false // idle but down: must never win on load
    targets[1]!.inFlight = 3
    targets[2]!.inFlight = 1
    targets[3]!.inFlight = 9
    const balancer = createLeastRequestBalancer(targets, { random: createSeededRandom(4) })
    const counts = countPicks(() => balancer.pick({}), targets, 3_000)
    assert.equal(counts[0], 0)
    assert.equal(counts[3], 0)
    assert.ok(counts[2]! > counts[1]!)
  })

  void test('returns the only acceptable candidate without comparing', () => {
    const targets = makeTargets([1, 1, 1])
    targets[1]!.available = false
    targets[2]!.inFlight = 50
    const balancer = createLeastRequestBalancer(targets, { random: createSeededRandom(5) })
    for (let i = 0; i < 50; i++) assert.equal(balancer.pick({ exclude: [targets[0]!] }), targets[2])
  })

  void test('ignores weights', () => {
    const targets = makeTargets([9, 1])
    const balancer = createLeastRequestBalancer(targets, { random: createSeededRandom(6) })
    const [heavy, light] = countPicks(() => balancer.pick({}), targets, 10_000)
    assert.ok(Math.abs(heavy! - light!) < 500, `${heavy} vs ${light}`)
  })
})
