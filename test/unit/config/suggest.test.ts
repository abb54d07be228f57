/** "Did you mean": edit distance and the closeness threshold. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { closestMatch, editDistance } from '../../../src/config/suggest.ts'

test('edit distance counts insertions, deletions, substitutions and adjacent swaps', () => {
  assert.equal(editDistance('', ''), 0)
  assert.equal(editDistance('abc', ''), 3)
  assert.equal(editDistance('', 'abc'), 3)
  assert.equal(editDistance('kitten', 'sitting'), 3)
  assert.equal(editDistance('balancr', 'balancer'), 1)
  assert.equal(editDistance('wieght', 'weight'), 1)
})

test('suggests the closest candidate within a third of the word length', () => {
  const keys = ['balancer', 'hash_key', 'targets', 'health_check', 'timeouts']
  assert.equal(closestMatch('balancr', keys), 'balancer')
  assert.equal(closestMatch('target', keys), 'targets')
  assert.equal(closestMatch('healthcheck', keys), 'health_check')
  assert.equal(closestMatch('frobnicate', keys), undefined)
  assert.equal(closestMatch('x', ['y']), 'y')
  assert.equal(closestMatch('xy', ['ab']), undefined)
})

test('ignores case and the dash/underscore choice, never suggests the input itself', () => {
  assert.equal(closestMatch('response-header', ['connect', 'response_header']), 'response_header')
  assert.equal(closestMatch('Timeouts', ['timeouts']), 'timeouts')
  assert.equal(closestMatch('consistent_hash', ['random', 'consistent-hash']), 'consistent-hash')
  assert.equal(closestMatch('users', ['users']), undefined)
})

test('prefers the nearest of several candidates, the first on a tie', () => {
  assert.equal(closestMatch('orders-v3', ['orders', 'orders-v2']), 'orders-v2')
  assert.equal(closestMatch('ab', ['ax', 'ay']), 'ax')
})
