/**
 * TargetState: identity within the registry, and availability (healthy and not ejected, an
 * ejection ending at its deadline), with time from mock.timers.
 */

import { afterEach, beforeEach, describe, mock, test } from 'node:test'
import assert from 'node:assert/strict'
import { TargetState, stateId } from '../../../src/upstream/target-state.ts'

void describe('TargetState', () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 })
  })
  afterEach(() => {
    mock.timers.reset()
  })

  void test('starts healthy, not ejected, idle and available', () => {
    const state = new TargetState('users', 'http://127.0.0.1:9001')
    assert.equal(state.healthy, true)
    assert.equal(state.ejectedUntilMs, 0)
    assert.equal(state.inFlight, 0)
    assert.equal(state.consecutiveFailures, 0)
    assert.equal(state.available, true)
  })

  void test('its id is the registry key of (upstream, origin)', () => {
    const state = new TargetState('users', 'http://127.0.0.1:9001')
    assert.equal(state.id, stateId('users', 'http://127.0.0.1:9001'))
    assert.notEqual(
      stateId('users', 'http://127.0.0.1:9001'),
      stateId('orders', 'http://127.0.0.1:9001'),
    )
    assert.equal(state.id, 'users\u0000http://127.0.0.1:9001')
  })

  void test('is unavailable while an active health check says unhealthy', () => {
    const state = new TargetState('users', 'http://127.0.0.1:9001')
    state.healthy = false
    assert.equal(state.available, false)
    state.healthy = true
    assert.equal(state.available, true)
  })

  void test('is unavailable until the ejection deadline, and available from it on', () => {
    const state = new TargetState('users', 'http://127.0.0.1:9001')
    state.ejectedUntilMs = Date.now() + 30_000
    assert.equal(state.available, false)
    mock.timers.tick(29_999)
    assert.equal(state.available, false)
    mock.timers.tick(1)
    assert.equal(state.available, true, 'at the deadline')
  })

  void test('an ejection deadline in the past does not keep it out', () => {
    const state = new TargetState('users', 'http://127.0.0.1:9001')
    state.ejectedUntilMs = Date.now() - 1
    assert.equal(state.available, true)
  })

  void test('an unhealthy target stays unavailable after its ejection ends', () => {
    const state = new TargetState('users', 'http://127.0.0.1:9001')
    state.healthy = false
    state.ejectedUntilMs = Date.now() + 10
    mock.timers.tick(10)
    assert.equal(state.available, false)
  })
})
