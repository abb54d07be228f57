/**
 * UpstreamRegistry: ref-counted target states and pools keyed by (upstream, origin) and pool
 * settings. Entries live while any lease holds them; a lease releases at most once.
 */

import { afterEach, beforeEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { UpstreamRegistry } from '../../../src/upstream/registry.ts'
import type { PoolSettings } from '../../../src/upstream/registry.ts'

const SETTINGS: PoolSettings = {
  connectTimeoutMs: 1000,
  maxConnections: 4,
  keepAliveTimeoutMs: 500,
}
const ORIGIN = 'http://127.0.0.1:9001'

void describe('UpstreamRegistry', () => {
  let registry: UpstreamRegistry
  beforeEach(() => {
    registry = new UpstreamRegistry()
  })
  afterEach(async () => {
    await registry.destroy()
  })

  void test('starts empty', () => {
    assert.equal(registry.poolCount, 0)
    assert.deepEqual(registry.states(), [])
  })

  void test('creates a state and a pool for a new target', () => {
    const lease = registry.acquire('users', ORIGIN, SETTINGS)
    assert.equal(lease.state.upstream, 'users')
    assert.equal(lease.state.origin, ORIGIN)
    assert.equal(lease.pool.closed, false)
    assert.equal(registry.poolCount, 1)
    assert.deepEqual(registry.states(), [lease.state])
  })

  void test('a second acquire of the same target and settings shares state and pool', () => {
    const a = registry.acquire('users', ORIGIN, SETTINGS)
    const b = registry.acquire('users', ORIGIN, { ...SETTINGS })
    assert.equal(a.state, b.state)
    assert.equal(a.pool, b.pool)
    assert.equal(registry.poolCount, 1)
  })

  void test('a target found after configure() (discovery) is probed as its upstream says', () => {
    const healthCheck = {
      path: '/healthz',
      intervalMs: 60_000,
      timeoutMs: 50,
      healthyThreshold: 1,
      unhealthyThreshold: 1,
    }
    registry.configure([
      { name: 'users', healthCheck, outlier: null },
      { name: 'plain', healthCheck: null, outlier: null },
    ])
    const probed = registry.acquire('users', ORIGIN, SETTINGS)
    const unprobed = registry.acquire('plain', ORIGIN, SETTINGS)
    assert.notEqual(probed.state.checker, null)
    assert.equal(unprobed.state.checker, null)
    probed.release()
    unprobed.release()
  })

  void test('keeps an entry until its last lease is released, then closes the pool', () => {
    const a = registry.acquire('users', ORIGIN, SETTINGS)
    const b = registry.acquire('users', ORIGIN, SETTINGS)
    a.release()
    assert.equal(registry.poolCount, 1)
    assert.equal(b.pool.closed, false)
    b.release()
    assert.equal(registry.poolCount, 0)
    assert.deepEqual(registry.states(), [])
    assert.equal(b.pool.closed, true)
  })

  void test('releasing one lease twice counts once', () => {
    const a = registry.acquire('users', ORIGIN, SETTINGS)
    const b = registry.acquire('users', ORIGIN, SETTINGS)
    a.release()
    a.release()
    assert.equal(registry.poolCount, 1, "b's reference is intact")
    assert.equal(b.pool.closed, false)
    b.release()
    assert.equal(registry.poolCount, 0)
  })

  for (const [key, changed] of [
    ['connectTimeoutMs', { connectTimeoutMs: 2000 }],
    ['maxConnections', { maxConnections: 8 }],
    ['keepAliveTimeoutMs', { keepAliveTimeoutMs: 1000 }],
  ] as const) {
    void test(`a different ${key} gives a new pool but the same target state`, () => {
      const a = registry.acquire('users', ORIGIN, SETTINGS)
      const b = registry.acquire('users', ORIGIN, { ...SETTINGS, ...changed })
      assert.notEqual(a.pool, b.pool)
      assert.equal(a.state, b.state)
      assert.equal(registry.poolCount, 2)
      assert.equal(registry.states().length, 1)
    })
  }

  void test('the same origin in two upstreams is two targets with separate state and pools', () => {
    const a = registry.acquire('users', ORIGIN, SETTINGS)
    const b = registry.acquire('orders', ORIGIN, SETTINGS)
    assert.notEqual(a.state, b.state)
    assert.notEqual(a.pool, b.pool)
    assert.equal(registry.states().length, 2)
  })

  void test('a target dropped and acquired again starts with fresh state', () => {
    const a = registry.acquire('users', ORIGIN, SETTINGS)
    a.state.healthy = false
    a.release()
    const b = registry.acquire('users', ORIGIN, SETTINGS)
    assert.notEqual(a.state, b.state)
    assert.equal(b.state.healthy, true)
    assert.equal(b.pool.closed, false)
  })

  void test('destroy drops every entry and destroys the pools', async () => {
    const a = registry.acquire('users', ORIGIN, SETTINGS)
    registry.acquire('users', 'http://127.0.0.1:9002', SETTINGS)
    await registry.destroy()
    assert.equal(registry.poolCount, 0)
    assert.deepEqual(registry.states(), [])
    assert.equal(a.pool.destroyed, true)
    a.release()
    assert.equal(registry.poolCount, 0, 'a late release after destroy is harmless')
  })
})
