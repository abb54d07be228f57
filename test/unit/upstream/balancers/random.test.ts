/** Unit tests for the weighted random balancer. */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import { createRandomBalancer } from '../../../../src/upstream/balancers/random.ts'
import { makeTargets } from '../../../conformance/balancer.suite.ts'
import type { TestTarget } from '../../../conformance/balancer.suite.ts'
import { createSeededRandom } from '../../../helpers/seeded-random.ts'

function shares(pick: () => TestTarget | undefined, targets: TestTarget[], n: number): number[] {
  const counts = targets.map(() => 0)
  for (let i = 0; i < n; i++) counts[targets.indexOf(pick()!)]!++
  return counts.map((count) => count / n)
}

// `void`: node:test tracks these promises itself; no-floating-promises cannot know that.
void describe('random balancer', () => {
  void test('picks in proportion to weight', () => {
    const targets = makeTargets([1, 3, 6])
    const balancer = createRandomBalancer(targets, { random: createSeededRandom(1) })
    const got = shares(() => balancer.pick({}), targets, 50_000)
    ;[0.1, 0.3, 0.6].forEach((want, i) => assert.ok(Math.abs(got[i]! - want) < 0.01, `${got[i]}`))
  })

  void test('maps the draw onto cumulative weights (deterministic with a stub source)', () => {
    const targets = makeTargets([1, 3, 6])
    let next = 0
    const balancer = createRandomBalancer(targets, { random: () => next })
    const at = (draw: number): TestTarget | undefined => {
      next = draw
      return balancer.pick({})
    }
    assert.equal(at(0), targets[0])
    assert.equal(at(0.099), targets[0])
    assert.equal(at(0.1), targets[1])
    assert.equal(at(0.399), targets[1])
    assert.equal(at(0.4), targets[2])
    assert.equal(at(0.999_999), targets[2])
  })

  void test("an unavailable target's share goes to the others in weight proportion", () => {
    const targets = makeTargets([1, 3, 6])
    targets[2]!.available = false
    const balancer = createRandomBalancer(targets, { random: createSeededRandom(2) })
    const got = shares(() => balancer.pick({}), targets, 50_000)
    assert.equal(got[2], 0)
    assert.ok(Math.abs(got[0]! - 0.25) < 0.01, `${got[0]}`)
    assert.ok(Math.abs(got[1]! - 0.75) < 0.01, `${got[1]}`)
  })

  void test('the same seed gives the same picks', () => {
    const targets = makeTargets([1, 2, 3])
    const run = (): (TestTarget | undefined)[] => {
      const balancer = createRandomBalancer(targets, { random: createSeededRandom(42) })
      return Array.from({ length: 100 }, () => balancer.pick({}))
    }
    assert.deepEqual(run(), run())
  })
})
