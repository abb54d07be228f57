/**
 * Router conformance suite: SPEC §3 matching rules that any router implementation must pass
 * (precedence, longest segment-aware prefix, fall-through on constraints, config order, HEAD via
 * GET, wildcard hosts, headers, 404). Run it with `routerConformance(name, createX)`.
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { RouteMatch } from '../../src/config/types.ts'
import type { RequestView, RouteSpec, createRouter } from '../../src/router/router.ts'

type Constraints = Partial<Pick<RouteMatch, 'methods' | 'hosts' | 'headers'>>

const ANY = { methods: null, hosts: null, headers: null } as const

/** Builds a route spec whose data is its name, so assertions read as route names. */
function exact(name: string, path: string, c: Constraints = {}): RouteSpec<string> {
  return { match: { ...ANY, ...c, kind: 'path', path }, data: name }
}

function prefix(name: string, value: string, c: Constraints = {}): RouteSpec<string> {
  return { match: { ...ANY, ...c, kind: 'prefix', prefix: value }, data: name }
}

function regex(name: string, source: string, c: Constraints = {}): RouteSpec<string> {
  return { match: { ...ANY, ...c, kind: 'regex', regex: source }, data: name }
}

function request(path: string, over: Partial<Omit<RequestView, 'path'>> = {}): RequestView {
  return { method: 'GET', host: 'example.com', headers: {}, ...over, path }
}

/**
 * Registers the conformance cases for one router implementation under `describe(name)`.
 * An implementation may skip a case only with a written reason (STYLE.md §H).
 */
export function routerConformance(name: string, create: typeof createRouter): void {
  const lookup = (specs: RouteSpec<string>[], req: RequestView) => create(specs).lookup(req)

  void describe(`router conformance: ${name}`, () => {
    void describe('precedence', () => {
      const specs = [
        regex('regex', '^/api/users$'),
        prefix('prefix', '/api'),
        exact('exact', '/api/users'),
      ]

      void test('an exact path beats a prefix and a regex listed before it', () => {
        assert.equal(lookup(specs, request('/api/users')), 'exact')
      })

      void test('a prefix beats a regex listed before it', () => {
        const s = [regex('regex', '^/api/'), prefix('prefix', '/api')]
        assert.equal(lookup(s, request('/api/orders')), 'prefix')
      })

      void test('a regex is used when no exact path or prefix matches', () => {
        const s = [prefix('prefix', '/api'), regex('regex', '^/other/\\d+$')]
        assert.equal(lookup(s, request('/other/7')), 'regex')
      })

      void test('regexes are tried in config order', () => {
        const s = [regex('first', '^/r/'), regex('second', '^/r/x$')]
        assert.equal(lookup(s, request('/r/x')), 'first')
      })

      void test('regexes see the normalised path without the query', () => {
        const s = [regex('end', '^/a/b$')]
        assert.equal(lookup(s, request('/a/b')), 'end')
      })
    })

    void describe('exact paths', () => {
      void test('do not match with an added trailing slash', () => {
        assert.equal(lookup([exact('ping', '/ping')], request('/ping/')), undefined)
      })

      void test('a path with a trailing slash does not match without it', () => {
        assert.equal(lookup([exact('dir', '/dir/')], request('/dir')), undefined)
        assert.equal(lookup([exact('dir', '/dir/')], request('/dir/')), 'dir')
      })

      void test('are case-sensitive', () => {
        assert.equal(lookup([exact('ping', '/ping')], request('/Ping')), undefined)
      })

      void test('the first in config order whose constraints match wins', () => {
        const s = [exact('a', '/x', { methods: ['POST'] }), exact('b', '/x'), exact('c', '/x')]
        assert.equal(lookup(s, request('/x', { method: 'POST' })), 'a')
        assert.equal(lookup(s, request('/x')), 'b')
      })

      void test('are written like request paths: config paths are normalised too', () => {
        assert.equal(lookup([exact('home', '/%7euser')], request('/~user')), 'home')
      })
    })

    void describe('prefixes', () => {
      void test('are segment-aware', () => {
        const s = [prefix('api', '/api')]
        assert.equal(lookup(s, request('/api')), 'api')
        assert.equal(lookup(s, request('/api/')), 'api')
        assert.equal(lookup(s, request('/api/x/y')), 'api')
        assert.equal(lookup(s, request('/apiary')), undefined)
      })

      void test('ending in / match everything below, not the bare name', () => {
        const s = [prefix('api', '/api/')]
        assert.equal(lookup(s, request('/api/')), 'api')
        assert.equal(lookup(s, request('/api/x')), 'api')
        assert.equal(lookup(s, request('/api')), undefined)
      })

      void test('/ matches every path', () => {
        for (const path of ['/', '/x', '/x/y/']) {
          assert.equal(lookup([prefix('root', '/')], request(path)), 'root', path)
        }
      })

      void test('the longest matching prefix wins, whatever the config order', () => {
        const s = [prefix('root', '/'), prefix('api', '/api'), prefix('v1', '/api/v1')]
        assert.equal(lookup(s, request('/api/v1/users')), 'v1')
        assert.equal(lookup([...s].reverse(), request('/api/v1/users')), 'v1')
        assert.equal(lookup(s, request('/api/v2')), 'api')
        assert.equal(lookup(s, request('/api/v1x')), 'api')
        assert.equal(lookup(s, request('/other')), 'root')
      })

      void test('are case-sensitive', () => {
        assert.equal(lookup([prefix('api', '/api')], request('/API/x')), undefined)
      })

      void test('the same prefix is tried in config order', () => {
        const s = [prefix('a', '/p', { hosts: ['a.test'] }), prefix('b', '/p'), prefix('c', '/p')]
        assert.equal(lookup(s, request('/p/x', { host: 'a.test' })), 'a')
        assert.equal(lookup(s, request('/p/x')), 'b')
      })
    })

    void describe('fall-through when constraints refuse', () => {
      void test('from exact to prefix', () => {
        const s = [exact('exact', '/a/b', { methods: ['POST'] }), prefix('prefix', '/a')]
        assert.equal(lookup(s, request('/a/b')), 'prefix')
      })

      void test('from the longest prefix to the next-longest', () => {
        const s = [prefix('short', '/a'), prefix('long', '/a/b', { headers: { 'x-beta': '1' } })]
        assert.equal(lookup(s, request('/a/b/c')), 'short')
        assert.equal(lookup(s, request('/a/b/c', { headers: { 'x-beta': '1' } })), 'long')
      })

      void test('through every prefix down to /', () => {
        const s = [
          prefix('root', '/'),
          prefix('a', '/a', { methods: ['PUT'] }),
          prefix('ab', '/a/b', { methods: ['POST'] }),
        ]
        assert.equal(lookup(s, request('/a/b/c')), 'root')
      })

      void test('from exact and prefixes to regex', () => {
        const s = [
          exact('exact', '/a/b', { methods: ['POST'] }),
          prefix('prefix', '/a', { methods: ['PUT'] }),
          regex('regex', '^/a/'),
        ]
        assert.equal(lookup(s, request('/a/b')), 'regex')
      })

      void test('from one regex to the next', () => {
        const s = [regex('post', '^/r', { methods: ['POST'] }), regex('any', '^/r')]
        assert.equal(lookup(s, request('/r')), 'any')
      })

      void test('to 404 when no level accepts', () => {
        const s = [
          exact('exact', '/a', { methods: ['POST'] }),
          prefix('prefix', '/a', { methods: ['POST'] }),
          regex('regex', '^/a', { methods: ['POST'] }),
        ]
        assert.equal(lookup(s, request('/a', { method: 'DELETE' })), undefined)
      })
    })

    void describe('methods', () => {
      void test('a route listing GET also matches HEAD', () => {
        const s = [exact('get', '/x', { methods: ['GET'] })]
        assert.equal(lookup(s, request('/x', { method: 'HEAD' })), 'get')
      })

      void test('a HEAD-only route does not match GET', () => {
        const s = [exact('head', '/x', { methods: ['HEAD'] })]
        assert.equal(lookup(s, request('/x')), undefined)
      })

      void test('an unlisted method falls through', () => {
        const s = [prefix('rw', '/x', { methods: ['GET', 'POST'] }), prefix('root', '/')]
        assert.equal(lookup(s, request('/x', { method: 'DELETE' })), 'root')
        assert.equal(lookup(s, request('/x', { method: 'POST' })), 'rw')
      })
    })

    void describe('hosts', () => {
      const s = [
        prefix('exact-host', '/', { hosts: ['api.example.com'] }),
        prefix('wildcard', '/', { hosts: ['*.example.com'] }),
        prefix('fallback', '/'),
      ]

      void test('an exact hostname matches that host only', () => {
        assert.equal(lookup(s, request('/', { host: 'api.example.com' })), 'exact-host')
      })

      void test('a wildcard matches any deeper subdomain', () => {
        assert.equal(lookup(s, request('/', { host: 'www.example.com' })), 'wildcard')
        assert.equal(lookup(s, request('/', { host: 'a.b.example.com' })), 'wildcard')
      })

      void test('a wildcard does not match the apex domain', () => {
        assert.equal(lookup(s, request('/', { host: 'example.com' })), 'fallback')
      })

      void test('a request without a host matches host-less routes only', () => {
        assert.equal(lookup(s, request('/', { host: '' })), 'fallback')
      })
    })

    void describe('headers', () => {
      const s = [
        exact('acme', '/t', { headers: { 'x-tenant': 'acme', 'x-env': 'prod' } }),
        exact('other', '/t'),
      ]

      void test('all listed headers must be present with the exact value', () => {
        const both = { 'x-tenant': 'acme', 'x-env': 'prod' }
        assert.equal(lookup(s, request('/t', { headers: both })), 'acme')
        assert.equal(lookup(s, request('/t', { headers: { 'x-tenant': 'acme' } })), 'other')
        const wrong = { 'x-tenant': 'ACME', 'x-env': 'prod' }
        assert.equal(lookup(s, request('/t', { headers: wrong })), 'other')
      })

      void test('a repeated header kept as an array matches if any element equals the value', () => {
        const repeated = { 'x-tenant': ['x', 'acme'], 'x-env': 'prod' }
        assert.equal(lookup(s, request('/t', { headers: repeated })), 'acme')
      })
    })

    void describe('no match', () => {
      void test('an empty router answers undefined', () => {
        assert.equal(lookup([], request('/')), undefined)
      })

      void test('a path no route covers answers undefined (404)', () => {
        const s = [exact('a', '/a'), prefix('b', '/b'), regex('c', '^/c$')]
        assert.equal(lookup(s, request('/d')), undefined)
        assert.equal(lookup(s, request('/c/')), undefined)
      })
    })

    void describe('building', () => {
      void test('the router is built once and looked up many times', () => {
        const router = create([exact('a', '/a'), prefix('b', '/b')])
        for (let i = 0; i < 3; i++) {
          assert.equal(router.lookup(request('/a')), 'a')
          assert.equal(router.lookup(request('/b/x')), 'b')
        }
      })

      void test('route data that is undefined still counts as a match', () => {
        const router = create<string | undefined>([
          { match: { ...ANY, kind: 'path', path: '/a' }, data: undefined },
          { match: { ...ANY, kind: 'prefix', prefix: '/' }, data: 'root' },
        ])
        assert.equal(router.lookup(request('/a')), undefined)
        assert.equal(router.lookup(request('/b')), 'root')
      })

      void test('throws on a regex that does not compile', () => {
        assert.throws(() => create([regex('bad', '(')]))
      })

      void test('throws on a path or prefix that is not an absolute path', () => {
        assert.throws(() => create([exact('bad', 'ping')]))
        assert.throws(() => create([prefix('bad', '/../x')]))
        assert.throws(() => create([exact('bad', '/a?b')]))
      })
    })
  })
}
