/**
 * SnapshotHolder: requests pin the current snapshot on entry and finish on it; a swap makes the
 * next one current, bumps the generation and retires the previous, whose leases go once its
 * last pinned request is released.
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { SnapshotHolder } from '../../../src/snapshot/holder.ts'
import { makeCountingSnapshot } from '../../helpers/fake-snapshot.ts'

void describe('SnapshotHolder', () => {
  void test('has no snapshot and generation 0 before the first swap; acquire gives null', () => {
    const holder = new SnapshotHolder()
    assert.equal(holder.current, null)
    assert.equal(holder.generation, 0)
    assert.equal(holder.acquire(), null)
  })

  void test('the first swap makes the snapshot current, returns no previous, generation 1', () => {
    const holder = new SnapshotHolder()
    const { snapshot } = makeCountingSnapshot('v1')
    assert.equal(holder.swap(snapshot), null)
    assert.equal(holder.current, snapshot)
    assert.equal(holder.generation, 1)
    assert.equal(snapshot.retired, false)
  })

  void test('every swap increments the generation by one', () => {
    const holder = new SnapshotHolder()
    for (let i = 1; i <= 4; i++) {
      holder.swap(makeCountingSnapshot(`v${i}`).snapshot)
      assert.equal(holder.generation, i)
    }
  })

  void test('acquire pins the current snapshot and release unpins it', () => {
    const holder = new SnapshotHolder()
    const { snapshot } = makeCountingSnapshot()
    holder.swap(snapshot)
    const pinned = holder.acquire()
    assert.equal(pinned, snapshot)
    assert.equal(snapshot.pinned, 1)
    holder.release(snapshot)
    assert.equal(snapshot.pinned, 0)
  })

  void test('a swap returns and retires the previous snapshot, freeing it at once when idle', () => {
    const holder = new SnapshotHolder()
    const first = makeCountingSnapshot('v1')
    const second = makeCountingSnapshot('v2')
    holder.swap(first.snapshot)
    let disposed = 0
    assert.equal(
      holder.swap(second.snapshot, () => disposed++),
      first.snapshot,
    )
    assert.equal(first.snapshot.retired, true)
    assert.deepEqual(first.releases, [1, 1])
    assert.equal(disposed, 1)
    assert.deepEqual(second.releases, [0, 0])
  })

  void test('a request pinned before a swap finishes on the old snapshot, which is freed after it', () => {
    const holder = new SnapshotHolder()
    const old = makeCountingSnapshot('old')
    const next = makeCountingSnapshot('next')
    holder.swap(old.snapshot)
    const inFlightA = holder.acquire()!
    const inFlightB = holder.acquire()!
    let disposed = 0
    holder.swap(next.snapshot, () => disposed++)

    const fresh = holder.acquire()
    assert.equal(fresh, next.snapshot, 'new requests get the new snapshot')
    assert.equal(inFlightA, old.snapshot, 'in-flight requests keep theirs')

    holder.release(inFlightA)
    assert.deepEqual(old.releases, [0, 0], 'one request still runs on the old snapshot')
    assert.equal(disposed, 0)
    holder.release(inFlightB)
    assert.deepEqual(old.releases, [1, 1])
    assert.equal(disposed, 1)

    holder.release(fresh)
    assert.deepEqual(next.releases, [0, 0], 'the current snapshot is never freed by releases')
  })

  void test('swapping twice while requests run frees each retired snapshot after its own last request', () => {
    const holder = new SnapshotHolder()
    const a = makeCountingSnapshot('a')
    const b = makeCountingSnapshot('b')
    const c = makeCountingSnapshot('c')
    holder.swap(a.snapshot)
    const onA = holder.acquire()!
    holder.swap(b.snapshot)
    const onB = holder.acquire()!
    holder.swap(c.snapshot)
    assert.equal(holder.generation, 3)
    holder.release(onB)
    assert.deepEqual(b.releases, [1, 1])
    assert.deepEqual(a.releases, [0, 0])
    holder.release(onA)
    assert.deepEqual(a.releases, [1, 1])
    assert.deepEqual(c.releases, [0, 0])
  })

  void test('clear retires the current snapshot and leaves none; the generation stays', () => {
    const holder = new SnapshotHolder()
    const { snapshot, releases } = makeCountingSnapshot()
    holder.swap(snapshot)
    const pinned = holder.acquire()!
    holder.clear()
    assert.equal(holder.current, null)
    assert.equal(holder.acquire(), null)
    assert.equal(holder.generation, 1)
    assert.equal(snapshot.retired, true)
    assert.deepEqual(releases, [0, 0])
    holder.release(pinned)
    assert.deepEqual(releases, [1, 1])
  })
})
