/** Unit tests for the balancer table: every config name has a factory, and nothing else. */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'

import type { BalancerName } from '../../../../src/config/types.ts'
import { ErrorCode } from '../../../../src/errors.ts'
import { BALANCERS, createBalancer } from '../../../../src/upstream/balancers/index.ts'
import { makeTargets } from '../../../conformance/balancer.suite.ts'
import { createSeededRandom } from '../../../helpers/seeded-random.ts'

// `satisfies` makes this list fail to compile when a BalancerName is added or removed, so the
// runtime comparison below is against the type, not against a second hand-kept list.
const NAMES = {
  'round-robin': true,
  weighted: true,
  'least-request': true,
  random: true,
  'consistent-hash': true,
} as const satisfies Record<BalancerName, true>

// `void`: node:test tracks these promises itself; no-floating-promises cannot know that.
void describe('balancer table', () => {
  void test('has exactly one factory per BalancerName', () => {
    assert.deepEqual(Object.keys(BALANCERS).sort(), Object.keys(NAMES).sort())
    for (const factory of Object.values(BALANCERS)) assert.equal(typeof factory, 'function')
  })

  void test('is frozen', () => {
    assert.ok(Object.isFrozen(BALANCERS))
  })

  void test('createBalancer builds a working balancer for every name', () => {
    for (const name of Object.keys(NAMES) as BalancerName[]) {
      const targets = makeTargets([1, 2])
      const balancer = createBalancer(name, targets, { random: createSeededRandom(1) })
      assert.ok(targets.includes(balancer.pick({ hashKey: 'user-1' })!), name)
    }
  })

  void test('createBalancer defaults its options', () => {
    const targets = makeTargets([1])
    assert.equal(createBalancer('random', targets).pick({}), targets[0])
  })

  void test('createBalancer rejects a name outside the table, including prototype keys', () => {
    for (const name of ['fastest', 'constructor', 'toString']) {
      assert.throws(() => createBalancer(name as BalancerName, makeTargets([1])), {
        code: ErrorCode.INTERNAL,
      })
    }
  })
})
