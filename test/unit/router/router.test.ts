/**
 * createRouter: a randomized differential test against a naive linear implementation of the
 * SPEC §3 rules written here, on seeded random route sets and requests. The rule-by-rule cases
 * live in test/conformance/router.suite.ts.
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { RouteMatch } from '../../../src/config/types.ts'
import { createRouter } from '../../../src/router/router.ts'
import type { RequestView, RouteSpec } from '../../../src/router/router.ts'
import { createSeededRandom } from '../../helpers/seeded-random.ts'

const SEGMENTS = ['a', 'b', 'ab', 'api', 'v1', '']
const REGEXES = ['^/a', 'b$', '^/api/', '/v1(/|$)', '^/$', 'a.*b', '^/[ab]+$', '//']
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE']
const ROUTE_HOSTS = ['a.com', '*.a.com', 'b.com']
const REQUEST_HOSTS = ['a.com', 'x.a.com', 'y.x.a.com', 'b.com', 'c.com', '']
const ROUTE_HEADERS = [{ 'x-t': '1' }, { 'x-t': '2' }, { 'x-t': '1', 'x-u': 'y' }]
const REQUEST_HEADERS: RequestView['headers'][] = [
  {},
  { 'x-t': '1' },
  { 'x-t': '2' },
  { 'x-t': ['2', '1'] },
  { 'x-t': '1', 'x-u': 'y' },
  { 'x-t': '1, 2' },
]

function createGenerator(random: () => number) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const subset = <T>(items: readonly T[]): T[] => items.filter(() => random() < 0.5)

  const path = (): string => {
    const count = Math.floor(random() * 5)
    let out = ''
    for (let i = 0; i < count; i++) out += '/' + pick(SEGMENTS)
    return out === '' || random() < 0.2 ? out + '/' : out
  }

  const match = (): RouteMatch => {
    const constraints = {
      methods: random() < 0.5 ? null : subset(['GET', 'POST', 'PUT', 'HEAD']),
      hosts: random() < 0.6 ? null : subset(ROUTE_HOSTS),
      headers: random() < 0.7 ? null : pick(ROUTE_HEADERS),
    }
    const kind = random()
    if (kind < 0.35) return { ...constraints, kind: 'path', path: path() }
    if (kind < 0.8) return { ...constraints, kind: 'prefix', prefix: path() }
    return { ...constraints, kind: 'regex', regex: pick(REGEXES) }
  }

  const request = (): RequestView => ({
    method: pick(METHODS),
    host: pick(REQUEST_HOSTS),
    path: path(),
    headers: pick(REQUEST_HEADERS),
  })

  return { match, request, random }
}

/** The SPEC §3 rules, written as plainly as possible: linear scans, no precomputation. */
function referenceLookup<T>(specs: readonly RouteSpec<T>[], req: RequestView): T | undefined {
  const accepts = (m: RouteMatch) =>
    (m.methods === null ||
      m.methods.includes(req.method) ||
      (req.method === 'HEAD' && m.methods.includes('GET'))) &&
    (m.hosts === null ||
      m.hosts.some((h) =>
        h.startsWith('*.')
          ? req.host.endsWith(h.slice(1)) && req.host !== h.slice(1)
          : h === req.host,
      )) &&
    (m.headers === null ||
      Object.entries(m.headers).every(([name, value]) => {
        const actual = req.headers[name]
        return Array.isArray(actual) ? actual.includes(value) : actual === value
      }))

  for (const spec of specs) {
    const m = spec.match
    if (m.kind === 'path' && m.path === req.path && accepts(m)) return spec.data
  }
  const prefixes: { prefix: string; spec: RouteSpec<T> }[] = []
  for (const spec of specs) {
    const m = spec.match
    if (m.kind !== 'prefix') continue
    const p = m.prefix
    const covers = p.endsWith('/')
      ? req.path.startsWith(p)
      : req.path === p || req.path.startsWith(p + '/')
    if (covers) prefixes.push({ prefix: p, spec })
  }
  // Array.prototype.sort is stable: equal prefixes keep config order
  prefixes.sort((x, y) => y.prefix.length - x.prefix.length)
  for (const { spec } of prefixes) if (accepts(spec.match)) return spec.data
  for (const spec of specs) {
    const m = spec.match
    if (m.kind === 'regex' && new RegExp(m.regex).test(req.path) && accepts(m)) return spec.data
  }
  return undefined
}

void describe('createRouter', () => {
  void test('agrees with a naive reference on 6,000 random lookups over 300 route sets', () => {
    const gen = createGenerator(createSeededRandom(20240601))
    let compared = 0
    let matched = 0
    for (let set = 0; set < 300; set++) {
      const size = 1 + Math.floor(gen.random() * 25)
      const specs = Array.from({ length: size }, (_, i) => ({ match: gen.match(), data: i }))
      const router = createRouter(specs)
      for (let r = 0; r < 20; r++) {
        const req = gen.request()
        const expected = referenceLookup(specs, req)
        const actual = router.lookup(req)
        if (actual !== expected) {
          assert.fail(
            `route set ${String(set)}: ${JSON.stringify(req)} → ${String(actual)}, ` +
              `expected ${String(expected)}\n${JSON.stringify(specs.map((s) => s.match))}`,
          )
        }
        compared++
        if (expected !== undefined) matched++
      }
    }
    assert.equal(compared, 6000)
    // guard against a generator that only ever produces 404s (or never does)
    assert.ok(matched > 2000 && matched < 5500, `matched ${String(matched)} of ${String(compared)}`)
  })

  void test('routes the same path differently by method, host and header', () => {
    const any = { methods: null, hosts: null, headers: null }
    const router = createRouter([
      { match: { ...any, kind: 'path', path: '/x', methods: ['POST'] }, data: 'post' },
      { match: { ...any, kind: 'path', path: '/x', hosts: ['*.a.com'] }, data: 'host' },
      { match: { ...any, kind: 'path', path: '/x', headers: { 'x-t': '1' } }, data: 'header' },
    ])
    const base = { path: '/x', host: 'a.com', headers: {} }
    assert.equal(router.lookup({ ...base, method: 'POST' }), 'post')
    assert.equal(router.lookup({ ...base, method: 'GET', host: 'b.a.com' }), 'host')
    assert.equal(router.lookup({ ...base, method: 'GET', headers: { 'x-t': '1' } }), 'header')
    assert.equal(router.lookup({ ...base, method: 'GET' }), undefined)
  })
})
