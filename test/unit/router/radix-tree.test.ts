/**
 * PathTree: exact paths by hash, prefixes in a tree of segments walked for the longest
 * segment-aware match first, falling back to shorter prefixes when constraints refuse.
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { compileConstraints } from '../../../src/router/constraints.ts'
import type { ConstraintInput, GuardedRoute } from '../../../src/router/constraints.ts'
import { createPathTree } from '../../../src/router/radix-tree.ts'
import type { PathRoute } from '../../../src/router/radix-tree.ts'

const GET: ConstraintInput = { method: 'GET', host: 'h', headers: {} }
const POST: ConstraintInput = { method: 'POST', host: 'h', headers: {} }

function route(data: string, methods: readonly string[] | null = null): GuardedRoute<string> {
  return { constraints: compileConstraints({ methods, hosts: null, headers: null }), data }
}

function entries(...pairs: (readonly [string, GuardedRoute<string>])[]): PathRoute<string>[] {
  return pairs.map(([path, r]) => ({ path, route: r }))
}

function prefixTree(...keys: string[]) {
  return createPathTree<string>([], entries(...keys.map((k) => [k, route(k)] as const)))
}

void describe('PathTree.findExact', () => {
  const tree = createPathTree(
    entries(['/ping', route('ping')], ['/ping/', route('ping-slash')], ['/', route('root')]),
    [],
  )

  void test('matches the exact path only', () => {
    assert.equal(tree.findExact('/ping', GET)?.data, 'ping')
    assert.equal(tree.findExact('/ping/', GET)?.data, 'ping-slash')
    assert.equal(tree.findExact('/', GET)?.data, 'root')
    assert.equal(tree.findExact('/pin', GET), undefined)
    assert.equal(tree.findExact('/ping/x', GET), undefined)
    assert.equal(tree.findExact('/PING', GET), undefined)
  })

  void test('does not look at prefixes', () => {
    assert.equal(tree.findPrefix('/ping', GET), undefined)
  })

  void test('tries same-path routes in config order', () => {
    const t = createPathTree(
      entries(['/a', route('post', ['POST'])], ['/a', route('get', ['GET'])], ['/a', route('any')]),
      [],
    )
    assert.equal(t.findExact('/a', POST)?.data, 'post')
    assert.equal(t.findExact('/a', GET)?.data, 'get')
    assert.equal(t.findExact('/a', { ...GET, method: 'PUT' })?.data, 'any')
  })
})

void describe('PathTree.findPrefix', () => {
  void test('is segment-aware', () => {
    const tree = prefixTree('/api')
    assert.equal(tree.findPrefix('/api', GET)?.data, '/api')
    assert.equal(tree.findPrefix('/api/', GET)?.data, '/api')
    assert.equal(tree.findPrefix('/api/x/y', GET)?.data, '/api')
    assert.equal(tree.findPrefix('/apiary', GET), undefined)
    assert.equal(tree.findPrefix('/ap', GET), undefined)
    assert.equal(tree.findPrefix('/', GET), undefined)
  })

  void test('a prefix ending in / matches below it, not the bare name', () => {
    const tree = prefixTree('/api/')
    assert.equal(tree.findPrefix('/api/', GET)?.data, '/api/')
    assert.equal(tree.findPrefix('/api/x', GET)?.data, '/api/')
    assert.equal(tree.findPrefix('/api', GET), undefined)
    assert.equal(tree.findPrefix('/apiary', GET), undefined)
  })

  void test('prefix / matches every path', () => {
    const tree = prefixTree('/')
    for (const path of ['/', '/a', '/a/b/', '//']) {
      assert.equal(tree.findPrefix(path, GET)?.data, '/', path)
    }
  })

  void test('picks the longest matching prefix, whatever the insertion order', () => {
    const keys = ['/', '/a', '/a/b', '/a/b/c', '/ab', '/a/bc']
    for (const order of [keys, [...keys].reverse()]) {
      const tree = prefixTree(...order)
      assert.equal(tree.findPrefix('/a/b/c/d', GET)?.data, '/a/b/c')
      assert.equal(tree.findPrefix('/a/b/cd', GET)?.data, '/a/b')
      assert.equal(tree.findPrefix('/a/bc', GET)?.data, '/a/bc')
      assert.equal(tree.findPrefix('/a/bcd', GET)?.data, '/a')
      assert.equal(tree.findPrefix('/ab/x', GET)?.data, '/ab')
      assert.equal(tree.findPrefix('/abc', GET)?.data, '/')
      assert.equal(tree.findPrefix('/z', GET)?.data, '/')
    }
  })

  void test('a trailing-slash prefix is longer than the bare one', () => {
    const tree = prefixTree('/api', '/api/')
    assert.equal(tree.findPrefix('/api', GET)?.data, '/api')
    assert.equal(tree.findPrefix('/api/', GET)?.data, '/api/')
    assert.equal(tree.findPrefix('/api/x', GET)?.data, '/api/')
  })

  void test('empty segments are significant', () => {
    const tree = prefixTree('/a//b', '/a/b')
    assert.equal(tree.findPrefix('/a//b/c', GET)?.data, '/a//b')
    assert.equal(tree.findPrefix('/a/b/c', GET)?.data, '/a/b')
    assert.equal(tree.findPrefix('/a///b', GET), undefined)
  })

  void test('splits edges correctly when keys share part of a label', () => {
    const tree = prefixTree('/users/list', '/users/lis', '/use', '/users')
    assert.equal(tree.findPrefix('/users/list/1', GET)?.data, '/users/list')
    assert.equal(tree.findPrefix('/users/lis', GET)?.data, '/users/lis')
    assert.equal(tree.findPrefix('/users/li', GET)?.data, '/users')
    assert.equal(tree.findPrefix('/use/x', GET)?.data, '/use')
    assert.equal(tree.findPrefix('/user', GET), undefined)
  })

  void test('falls back to the next-longest prefix when constraints refuse', () => {
    const tree = createPathTree(
      [],
      entries(
        ['/', route('root')],
        ['/api', route('api-post', ['POST'])],
        ['/api/v1', route('v1-put', ['PUT'])],
        ['/api/v1', route('v1-post', ['POST'])],
      ),
    )
    assert.equal(tree.findPrefix('/api/v1/x', POST)?.data, 'v1-post')
    assert.equal(tree.findPrefix('/api/v1/x', { ...GET, method: 'PUT' })?.data, 'v1-put')
    assert.equal(tree.findPrefix('/api/v1/x', GET)?.data, 'root')
    assert.equal(tree.findPrefix('/api/v2', POST)?.data, 'api-post')
  })

  void test('returns undefined when no prefix accepts the request', () => {
    const tree = createPathTree([], entries(['/a', route('a', ['POST'])]))
    assert.equal(tree.findPrefix('/a/b', GET), undefined)
  })

  void test('an empty tree matches nothing', () => {
    const tree = createPathTree<string>([], [])
    assert.equal(tree.findPrefix('/', GET), undefined)
    assert.equal(tree.findExact('/', GET), undefined)
  })

  void test('handles many prefixes sharing long common parts', () => {
    const keys = Array.from({ length: 500 }, (_, i) => `/svc/${String(i)}`)
    const tree = prefixTree('/svc', ...keys)
    for (let i = 0; i < 500; i++) {
      assert.equal(tree.findPrefix(`/svc/${String(i)}/x`, GET)?.data, `/svc/${String(i)}`)
    }
    assert.equal(tree.findPrefix('/svc/500', GET)?.data, '/svc')
    assert.equal(tree.findPrefix('/svc/12x', GET)?.data, '/svc')
  })

  void test('keeps apart segments whose hashes collide', () => {
    // the same FNV-1a the tree uses, to find colliding labels; if the tree's hash ever changes,
    // this still checks correctness, only maybe without a collision
    const hash = (label: string) => {
      let h = 0x811c9dc5
      for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193)
      return h & 0x3fffffff
    }
    const seen = new Map<number, string>()
    const pairs: [string, string][] = []
    // scrambled labels: sequential ones (`s1`, `s2`, …) happen not to collide under FNV-1a
    for (let i = 0; pairs.length < 3 && i < 500_000; i++) {
      const label = (Math.imul(i, 2654435761) >>> 0).toString(36)
      const other = seen.get(hash(label))
      if (other === undefined) seen.set(hash(label), label)
      else if (other !== label) pairs.push([other, label])
    }
    assert.ok(pairs.length > 0)
    for (const [a, b] of pairs) {
      const tree = prefixTree(`/${a}`, `/${b}/`, `/${b}/${a}`)
      assert.equal(tree.findPrefix(`/${a}/x`, GET)?.data, `/${a}`)
      assert.equal(tree.findPrefix(`/${b}/x`, GET)?.data, `/${b}/`)
      assert.equal(tree.findPrefix(`/${b}/${a}`, GET)?.data, `/${b}/${a}`)
      assert.equal(tree.findPrefix(`/${b}`, GET), undefined)
    }
  })
})
