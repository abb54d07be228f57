/** Config paths as users read them. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatConfigPath, isWithin } from '../../../src/config/config-path.ts'

test('formats keys with dots, indices with brackets, odd keys quoted', () => {
  assert.equal(formatConfigPath([]), '')
  assert.equal(formatConfigPath(['routes', 2, 'match', 'regex']), 'routes[2].match.regex')
  assert.equal(
    formatConfigPath(['upstreams', 'users-v2', 'targets', 0, 'url']),
    'upstreams.users-v2.targets[0].url',
  )
  assert.equal(formatConfigPath(['upstreams', 'a.b', 'x y', '']), 'upstreams["a.b"]["x y"][""]')
  assert.equal(formatConfigPath([0]), '[0]')
  assert.equal(formatConfigPath(['h', 'x"y']), 'h["x\\"y"]')
})

test('isWithin: the path itself or anything below it', () => {
  assert.equal(isWithin(['a', 0, 'b'], ['a', 0]), true)
  assert.equal(isWithin(['a', 0], ['a', 0]), true)
  assert.equal(isWithin(['a'], ['a', 0]), false)
  assert.equal(isWithin(['a', 1], ['a', 0]), false)
  assert.equal(isWithin(['a', '0'], ['a', 0]), false)
})
