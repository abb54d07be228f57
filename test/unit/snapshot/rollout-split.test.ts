import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { RolloutSplit, RolloutTally, fnv1a } from '../../../src/snapshot/rollout-split.ts'
import { SnapshotHolder } from '../../../src/snapshot/holder.ts'
import { makeCountingSnapshot } from '../../helpers/fake-snapshot.ts'
import { createSeededRandom } from '../../helpers/seeded-random.ts'

function req(headers: Record<string, string> = {}, ip = '10.0.0.1'): IncomingMessage {
  return { headers, socket: { remoteAddress: ip } } as unknown as IncomingMessage
}

describe('RolloutSplit', () => {
  const stable = makeCountingSnapshot('stable').snapshot
  const canary = makeCountingSnapshot('canary').snapshot

  test('per request: the canary gets canary_percent of requests', () => {
    const split = new RolloutSplit({
      stable,
      canary,
      canaryPercent: 10,
      sticky: null,
      random: createSeededRandom(1),
    })
    let onCanary = 0
    for (let i = 0; i < 20_000; i++) if (split.choose(req()) === canary) onCanary++
    assert.ok(Math.abs(onCanary / 20_000 - 0.1) < 0.01, `${onCanary}`)
  })

  test('0% and 100% are exact', () => {
    const none = new RolloutSplit({
      stable,
      canary,
      canaryPercent: 0,
      sticky: null,
      random: () => 0,
    })
    const all = new RolloutSplit({
      stable,
      canary,
      canaryPercent: 100,
      sticky: null,
      random: () => 0.9999,
    })
    assert.equal(none.choose(req()), stable)
    assert.equal(all.choose(req()), canary)
  })

  test('sticky: one key, one version; keys spread near canary_percent; a missing key is per request', () => {
    for (const sticky of [
      { kind: 'header', name: 'x-user' },
      { kind: 'cookie', name: 'sid' },
      { kind: 'client-ip' },
    ] as const) {
      const split = new RolloutSplit({
        stable,
        canary,
        canaryPercent: 30,
        sticky,
        random: () => {
          throw new Error('a keyed request must not be random')
        },
      })
      const of = (key: string): IncomingMessage =>
        sticky.kind === 'header'
          ? req({ 'x-user': key })
          : sticky.kind === 'cookie'
            ? req({ cookie: `a=b; sid=${key}` })
            : req({}, key)
      let onCanary = 0
      for (let i = 0; i < 5000; i++) {
        const first = split.choose(of(`key-${i}`))
        assert.equal(split.choose(of(`key-${i}`)), first)
        if (first === canary) onCanary++
      }
      assert.ok(Math.abs(onCanary / 5000 - 0.3) < 0.03, `${sticky.kind}: ${onCanary}`)
    }
    const keyless = new RolloutSplit({
      stable,
      canary,
      canaryPercent: 50,
      sticky: { kind: 'header', name: 'x-user' },
      random: () => 0.1,
    })
    assert.equal(keyless.choose(req()), canary)
  })

  test('fnv1a is FNV-1a 32', () => {
    assert.equal(fnv1a(''), 0x811c9dc5)
    assert.equal(fnv1a('a'), 0xe40c292c)
    assert.equal(fnv1a('foobar'), 0xbf9cf968)
  })

  test('a tally counts requests and 5xx, and tells its owner', () => {
    let told = 0
    const tally = new RolloutTally(() => told++)
    for (const status of [200, 404, 499, 500, 503]) tally.record(status)
    assert.equal(tally.requests, 5)
    assert.equal(tally.errors, 2)
    assert.equal(told, 5)
  })
})

describe('SnapshotHolder with a roll-out', () => {
  test('split, then rollback: the canary is retired after its last request, stable stays', () => {
    const holder = new SnapshotHolder()
    const stable = makeCountingSnapshot('stable')
    const canary = makeCountingSnapshot('canary')
    holder.swap(stable.snapshot)
    holder.split(
      new RolloutSplit({
        stable: stable.snapshot,
        canary: canary.snapshot,
        canaryPercent: 100,
        sticky: null,
        random: () => 0,
      }),
    )
    const pinned = holder.acquire(req())
    assert.equal(pinned, canary.snapshot)
    // No request object (diagnostics): the stable snapshot.
    assert.equal(holder.acquire(), stable.snapshot)
    holder.release(stable.snapshot)
    holder.endSplit(false)
    assert.equal(holder.acquire(req()), stable.snapshot)
    holder.release(stable.snapshot)
    assert.deepEqual(canary.releases, [0, 0], 'in use until its request ends')
    holder.release(canary.snapshot)
    assert.deepEqual(canary.releases, [1, 1])
    assert.deepEqual(stable.releases, [0, 0])
  })

  test('promotion: the canary becomes current and the stable snapshot is retired', () => {
    const holder = new SnapshotHolder()
    const stable = makeCountingSnapshot('stable')
    const canary = makeCountingSnapshot('canary')
    holder.swap(stable.snapshot)
    const generation = holder.generation
    holder.split(
      new RolloutSplit({
        stable: stable.snapshot,
        canary: canary.snapshot,
        canaryPercent: 0,
        sticky: null,
        random: () => 0.5,
      }),
    )
    holder.endSplit(true)
    assert.equal(holder.current, canary.snapshot)
    assert.ok(holder.generation > generation)
    assert.deepEqual(stable.releases, [1, 1])
    assert.deepEqual(canary.releases, [0, 0])
    holder.clear()
    assert.deepEqual(canary.releases, [1, 1])
  })
})
