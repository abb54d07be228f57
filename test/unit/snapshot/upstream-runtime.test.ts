/**
 * UpstreamTargets: an upstream's targets for one snapshot. A change of the target list acquires
 * the new targets, keeps the leases (pool, state) and TargetRef objects of those that stay (a new
 * weight is set on the same object),
 * releases those that leave, and swaps balancer and outlier detector with the list; dispose()
 * releases everything and stops following discovery.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import { BaseSource, type DiscoveredTarget } from '../../../src/discovery/source.ts'
import { UpstreamTargets, type RuntimeSettings } from '../../../src/snapshot/upstream-runtime.ts'
import { UpstreamRegistry } from '../../../src/upstream/registry.ts'

const SETTINGS: RuntimeSettings = {
  name: 'app',
  balancer: 'round-robin',
  hashKey: null,
  outlier: { consecutiveFailures: 1, ejectionTimeMs: 60_000, maxEjectionPercent: 100 },
  pool: { connectTimeoutMs: 1000, maxConnections: 4, keepAliveTimeoutMs: 500 },
}

const t = (port: number, weight = 1): DiscoveredTarget => ({
  origin: `http://127.0.0.1:${port}`,
  weight,
})

/** A discovery source the test feeds by hand. */
class HandSource extends BaseSource {
  readonly description = 'by hand'
  constructor() {
    super({ onChange: () => undefined, onProblem: () => undefined, onRecovered: () => undefined })
  }
  set(targets: readonly DiscoveredTarget[]): void {
    this.publish(targets)
  }
  close(): void {
    this.closed = true
  }
}

void describe('UpstreamTargets', () => {
  let registry: UpstreamRegistry
  beforeEach(() => {
    registry = new UpstreamRegistry()
  })
  afterEach(async () => {
    await registry.destroy()
  })
  const deps = () => ({ registry, onEjection: () => undefined })

  void test('static targets: one lease each, released by dispose()', () => {
    const u = new UpstreamTargets(SETTINGS, deps(), [t(1), t(2)])
    assert.deepEqual(
      u.targets.map((r) => r.key),
      [t(1).origin, t(2).origin],
    )
    assert.equal(registry.poolCount, 2)
    assert.equal(u.discovery, null)
    u.dispose()
    u.dispose()
    assert.equal(registry.poolCount, 0)
  })

  void test('a new list keeps the targets that stay, adds and releases the others', () => {
    const u = new UpstreamTargets(SETTINGS, deps(), [t(1), t(2)])
    const [one, two] = u.targets
    assert.ok(one !== undefined && two !== undefined)
    const pool1 = one.pool
    const balancer = u.balancer
    const outlier = u.outlier
    u.setTargets([t(2), t(3)])
    assert.equal(u.targets[0], two, 'the TargetRef of a staying target is the same object')
    assert.equal(u.targets[1]?.key, t(3).origin)
    assert.notEqual(u.balancer, balancer)
    assert.notEqual(u.outlier, outlier)
    assert.equal(registry.poolCount, 2)
    assert.equal(pool1.closed, true, 'the pool of the target that left is closing')
    // A changed weight: the same TargetRef (a retry's tried list holds), weight updated.
    u.setTargets([t(2, 5), t(3)])
    assert.equal(u.targets[0], two)
    assert.equal(two.weight, 5)
    // Duplicates collapse; an empty list leaves nothing to pick.
    u.setTargets([t(3), t(3)])
    assert.equal(u.targets.length, 1)
    u.setTargets([])
    assert.equal(u.balancer.pick({}), undefined)
    assert.equal(registry.poolCount, 0)
    u.dispose()
  })

  void test('with discovery: starts from the known answer, follows changes, leaves on dispose', () => {
    const source = new HandSource()
    let released = 0
    const lease = { source, release: () => void released++ }
    const before = new UpstreamTargets(SETTINGS, deps(), [], lease)
    assert.equal(before.targets.length, 0, 'no answer yet: no target')
    source.set([t(1)])
    assert.deepEqual(
      before.targets.map((r) => r.key),
      [t(1).origin],
    )
    const after = new UpstreamTargets(SETTINGS, deps(), [], { source, release: () => undefined })
    assert.deepEqual(
      after.targets.map((r) => r.key),
      [t(1).origin],
      'a later snapshot starts from the answer already known',
    )
    assert.equal(after.targets[0]?.state, before.targets[0]?.state, 'one state for both')
    before.dispose()
    assert.equal(released, 1)
    source.set([t(1), t(2)])
    assert.equal(before.targets.length, 1, 'a disposed runtime no longer follows')
    assert.equal(after.targets.length, 2)
    after.dispose()
    assert.equal(registry.poolCount, 0)
  })
})
