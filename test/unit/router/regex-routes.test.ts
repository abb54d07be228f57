/**
 * RegexRoutes: patterns compiled once, tried in config order on the normalised path, with
 * constraints deciding among the ones that match.
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { compileConstraints } from '../../../src/router/constraints.ts'
import type { ConstraintInput } from '../../../src/router/constraints.ts'
import { createRegexRoutes } from '../../../src/router/regex-routes.ts'

const GET: ConstraintInput = { method: 'GET', host: 'h', headers: {} }

function regexRoute(regex: string, data: string, methods: readonly string[] | null = null) {
  return {
    regex,
    route: { constraints: compileConstraints({ methods, hosts: null, headers: null }), data },
  }
}

void describe('RegexRoutes', () => {
  void test('returns the first matching pattern in config order', () => {
    const routes = createRegexRoutes([
      regexRoute('^/users/\\d+$', 'user'),
      regexRoute('^/users/', 'users'),
      regexRoute('\\.png$', 'png'),
    ])
    assert.equal(routes.find('/users/42', GET)?.data, 'user')
    assert.equal(routes.find('/users/me', GET)?.data, 'users')
    assert.equal(routes.find('/users/1.png', GET)?.data, 'users')
    assert.equal(routes.find('/img/1.png', GET)?.data, 'png')
    assert.equal(routes.find('/nothing', GET), undefined)
  })

  void test('patterns are not anchored unless they say so', () => {
    const routes = createRegexRoutes([regexRoute('admin', 'admin')])
    assert.equal(routes.find('/x/admin/y', GET)?.data, 'admin')
  })

  void test('skips a matching pattern whose constraints refuse the request', () => {
    const routes = createRegexRoutes([
      regexRoute('^/a', 'post', ['POST']),
      regexRoute('^/a', 'any'),
    ])
    assert.equal(routes.find('/a', GET)?.data, 'any')
    assert.equal(routes.find('/a', { ...GET, method: 'POST' })?.data, 'post')
  })

  void test('gives the same answer on repeated calls (no lastIndex state)', () => {
    const routes = createRegexRoutes([regexRoute('b', 'b')])
    for (let i = 0; i < 5; i++) assert.equal(routes.find('/abc', GET)?.data, 'b')
  })

  void test('is case-sensitive like paths', () => {
    const routes = createRegexRoutes([regexRoute('^/api', 'api')])
    assert.equal(routes.find('/API', GET), undefined)
  })

  void test('throws at build time on a pattern that does not compile', () => {
    assert.throws(() => createRegexRoutes([regexRoute('(', 'bad')]), SyntaxError)
  })

  void test('an empty list matches nothing', () => {
    assert.equal(createRegexRoutes<string>([]).find('/', GET), undefined)
  })
})
