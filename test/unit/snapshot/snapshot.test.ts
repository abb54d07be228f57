/**
 * Snapshot lifetime: pinned requests and tunnels keep a retired snapshot alive; its registry
 * leases are released exactly once, when it is retired and the last pinned one has ended.
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { makeCountingSnapshot as makeSnapshot } from '../../helpers/fake-snapshot.ts'

void describe('Snapshot', () => {
  void test('a new snapshot is neither pinned nor retired', () => {
    const { snapshot, releases } = makeSnapshot()
    assert.equal(snapshot.pinned, 0)
    assert.equal(snapshot.retired, false)
    assert.deepEqual(releases, [0, 0])
  })

  void test('pins and unpins count requests on it', () => {
    const { snapshot } = makeSnapshot()
    snapshot.pin()
    snapshot.pin()
    assert.equal(snapshot.pinned, 2)
    snapshot.unpin()
    assert.equal(snapshot.pinned, 1)
  })

  void test('a live snapshot never releases its leases, however often requests end', () => {
    const { snapshot, releases } = makeSnapshot()
    for (let i = 0; i < 3; i++) {
      snapshot.pin()
      snapshot.unpin()
    }
    assert.deepEqual(releases, [0, 0])
  })

  void test('retiring an idle snapshot releases every lease at once and reports disposal', () => {
    const { snapshot, releases } = makeSnapshot()
    let disposed = 0
    snapshot.retire(() => disposed++)
    assert.equal(snapshot.retired, true)
    assert.deepEqual(releases, [1, 1])
    assert.equal(disposed, 1)
  })

  void test('a retired snapshot keeps its leases until the last pinned request ends', () => {
    const { snapshot, releases } = makeSnapshot()
    let disposed = 0
    snapshot.pin()
    snapshot.pin()
    snapshot.retire(() => disposed++)
    assert.deepEqual(releases, [0, 0])
    snapshot.unpin()
    assert.deepEqual(releases, [0, 0], 'one request still runs')
    assert.equal(disposed, 0)
    snapshot.unpin()
    assert.deepEqual(releases, [1, 1])
    assert.equal(disposed, 1)
  })

  void test('releases exactly once: retiring twice or pinning after disposal releases nothing more', () => {
    const { snapshot, releases } = makeSnapshot()
    let disposed = 0
    snapshot.retire(() => disposed++)
    snapshot.retire(() => disposed++)
    snapshot.pin()
    snapshot.unpin()
    assert.deepEqual(releases, [1, 1])
    assert.equal(disposed, 1)
  })
})
