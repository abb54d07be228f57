/**
 * Route constraints: methods (GET admits HEAD), hosts (exact and `*.` wildcards), headers
 * (exact values, arrays), and first-in-config-order selection.
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { compileConstraints, firstAccepted } from '../../../src/router/constraints.ts'
import type { ConstraintInput, GuardedRoute } from '../../../src/router/constraints.ts'

type Headers = ConstraintInput['headers']

function req(method = 'GET', host = 'example.com', headers: Headers = {}): ConstraintInput {
  return { method, host, headers }
}

function compile(
  methods: readonly string[] | null,
  hosts: readonly string[] | null = null,
  headers: Readonly<Record<string, string>> | null = null,
) {
  const compiled = compileConstraints({ methods, hosts, headers })
  assert.ok(compiled !== null)
  return compiled
}

void describe('compileConstraints', () => {
  void test('returns null for a route without constraints', () => {
    assert.equal(compileConstraints({ methods: null, hosts: null, headers: null }), null)
  })

  void describe('methods', () => {
    void test('accepts a listed method and refuses others', () => {
      const c = compile(['POST', 'PUT'])
      assert.equal(c.matches(req('POST')), true)
      assert.equal(c.matches(req('PUT')), true)
      assert.equal(c.matches(req('GET')), false)
      assert.equal(c.matches(req('DELETE')), false)
    })

    void test('a route listing GET also accepts HEAD', () => {
      const c = compile(['GET'])
      assert.equal(c.matches(req('HEAD')), true)
    })

    void test('a route listing HEAD only does not accept GET', () => {
      const c = compile(['HEAD'])
      assert.equal(c.matches(req('HEAD')), true)
      assert.equal(c.matches(req('GET')), false)
    })

    void test('config methods are upper-cased at build time', () => {
      const c = compile(['get', 'Post'])
      assert.equal(c.matches(req('GET')), true)
      assert.equal(c.matches(req('HEAD')), true)
      assert.equal(c.matches(req('POST')), true)
    })

    void test('request methods compare exactly (RFC 9110 §9.1: case-sensitive)', () => {
      assert.equal(compile(['GET']).matches(req('get')), false)
    })

    void test('an empty list matches no method', () => {
      assert.equal(compile([]).matches(req('GET')), false)
    })
  })

  void describe('hosts', () => {
    void test('matches an exact hostname only', () => {
      const c = compile(null, ['api.example.com'])
      assert.equal(c.matches(req('GET', 'api.example.com')), true)
      assert.equal(c.matches(req('GET', 'example.com')), false)
      assert.equal(c.matches(req('GET', 'x.api.example.com')), false)
      assert.equal(c.matches(req('GET', '')), false)
    })

    void test('a wildcard matches any deeper subdomain but not the apex', () => {
      const c = compile(null, ['*.example.com'])
      assert.equal(c.matches(req('GET', 'a.example.com')), true)
      assert.equal(c.matches(req('GET', 'a.b.example.com')), true)
      assert.equal(c.matches(req('GET', 'example.com')), false)
      assert.equal(c.matches(req('GET', '.example.com')), false)
      assert.equal(c.matches(req('GET', 'badexample.com')), false)
      assert.equal(c.matches(req('GET', 'a.example.com.evil')), false)
    })

    void test('mixes exact names and wildcards', () => {
      const c = compile(null, ['example.com', '*.example.com', 'other.org'])
      for (const host of ['example.com', 'x.example.com', 'other.org']) {
        assert.equal(c.matches(req('GET', host)), true, host)
      }
      assert.equal(c.matches(req('GET', 'x.other.org')), false)
    })

    void test('config hosts are lower-cased at build time', () => {
      assert.equal(compile(null, ['API.Example.com']).matches(req('GET', 'api.example.com')), true)
      assert.equal(compile(null, ['*.EXAMPLE.com']).matches(req('GET', 'a.example.com')), true)
    })

    void test('an empty list matches no host', () => {
      assert.equal(compile(null, []).matches(req('GET', 'example.com')), false)
    })
  })

  void describe('headers', () => {
    void test('every listed header must be present with exactly that value', () => {
      const c = compile(null, null, { 'x-tenant': 'acme', 'x-env': 'prod' })
      assert.equal(c.matches(req('GET', 'h', { 'x-tenant': 'acme', 'x-env': 'prod' })), true)
      assert.equal(c.matches(req('GET', 'h', { 'x-tenant': 'acme' })), false)
      assert.equal(c.matches(req('GET', 'h', { 'x-tenant': 'Acme', 'x-env': 'prod' })), false)
      assert.equal(c.matches(req('GET', 'h', { 'x-tenant': 'acme ', 'x-env': 'prod' })), false)
      assert.equal(c.matches(req('GET', 'h', { 'x-tenant': undefined, 'x-env': 'prod' })), false)
    })

    void test('extra request headers do not matter', () => {
      const c = compile(null, null, { 'x-tenant': 'acme' })
      assert.equal(c.matches(req('GET', 'h', { 'x-tenant': 'acme', other: '1' })), true)
    })

    void test('a repeated header kept as an array matches when any element equals the value', () => {
      const c = compile(null, null, { 'x-tenant': 'acme' })
      assert.equal(c.matches(req('GET', 'h', { 'x-tenant': ['other', 'acme'] })), true)
      assert.equal(c.matches(req('GET', 'h', { 'x-tenant': ['other', 'x'] })), false)
      assert.equal(c.matches(req('GET', 'h', { 'x-tenant': [] })), false)
    })

    void test('a header node joined into "a, b" must equal the value as a whole', () => {
      const c = compile(null, null, { 'x-tenant': 'acme' })
      assert.equal(c.matches(req('GET', 'h', { 'x-tenant': 'acme, other' })), false)
    })

    void test('an empty value matches an empty header', () => {
      const c = compile(null, null, { 'x-flag': '' })
      assert.equal(c.matches(req('GET', 'h', { 'x-flag': '' })), true)
      assert.equal(c.matches(req('GET', 'h', {})), false)
    })

    void test('config header names are lower-cased at build time', () => {
      const c = compile(null, null, { 'X-Tenant': 'acme' })
      assert.equal(c.matches(req('GET', 'h', { 'x-tenant': 'acme' })), true)
    })

    void test('an empty header map matches any request', () => {
      assert.equal(compile(null, null, {}).matches(req()), true)
    })
  })

  void test('all three kinds must hold together', () => {
    const c = compile(['GET'], ['*.example.com'], { 'x-a': '1' })
    assert.equal(c.matches(req('GET', 'a.example.com', { 'x-a': '1' })), true)
    assert.equal(c.matches(req('POST', 'a.example.com', { 'x-a': '1' })), false)
    assert.equal(c.matches(req('GET', 'example.com', { 'x-a': '1' })), false)
    assert.equal(c.matches(req('GET', 'a.example.com', { 'x-a': '2' })), false)
  })
})

void describe('firstAccepted', () => {
  const routes: GuardedRoute<string>[] = [
    {
      constraints: compileConstraints({ methods: ['POST'], hosts: null, headers: null }),
      data: 'a',
    },
    {
      constraints: compileConstraints({ methods: ['GET'], hosts: null, headers: null }),
      data: 'b',
    },
    { constraints: null, data: 'c' },
    {
      constraints: compileConstraints({ methods: ['PUT'], hosts: null, headers: null }),
      data: 'd',
    },
  ]

  void test('returns the first route in config order whose constraints hold', () => {
    assert.equal(firstAccepted(routes, req('POST'))?.data, 'a')
    assert.equal(firstAccepted(routes, req('GET'))?.data, 'b')
  })

  void test('an unconstrained route shadows the routes after it', () => {
    assert.equal(firstAccepted(routes, req('PUT'))?.data, 'c')
  })

  void test('returns undefined when none holds', () => {
    assert.equal(firstAccepted(routes.slice(0, 2), req('DELETE')), undefined)
    assert.equal(firstAccepted([], req()), undefined)
  })
})
