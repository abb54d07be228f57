/** Cross-field rules on structurally valid documents. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { formatConfigPath } from '../../../src/config/config-path.ts'
import { expectValid, parseAddress } from '../../../src/config/formats.ts'
import type { RawConfigDocument } from '../../../src/config/schema.ts'
import { checkSemantics, overlaps } from '../../../src/config/semantic.ts'

function problems(doc: RawConfigDocument): string[] {
  return checkSemantics(doc).map(
    (f) => `${formatConfigPath(f.path)}: ${f.message}${f.hint === undefined ? '' : ` [${f.hint}]`}`,
  )
}

const LISTENERS = [{ address: '127.0.0.1:8080' }]

describe('overlaps', () => {
  const clash = (a: string, b: string): boolean =>
    overlaps(expectValid(parseAddress(a), 'address'), expectValid(parseAddress(b), 'address'))
  test('same host and port clash; port 0 never does', () => {
    assert.equal(clash('127.0.0.1:80', '127.0.0.1:80'), true)
    assert.equal(clash('LOCALHOST:80', 'localhost:80'), true)
    assert.equal(clash('127.0.0.1:80', '127.0.0.1:81'), false)
    assert.equal(clash('127.0.0.1:80', '127.0.0.2:80'), false)
    assert.equal(clash('127.0.0.1:0', '127.0.0.1:0'), false)
    assert.equal(clash('0.0.0.0:0', '127.0.0.1:0'), false)
  })
  test('0.0.0.0 covers IPv4 and names, :: covers everything', () => {
    assert.equal(clash('0.0.0.0:80', '10.0.0.1:80'), true)
    assert.equal(clash('10.0.0.1:80', '0.0.0.0:80'), true)
    assert.equal(clash('0.0.0.0:80', 'localhost:80'), true)
    assert.equal(clash('0.0.0.0:80', '[::1]:80'), false)
    assert.equal(clash('[::]:80', '10.0.0.1:80'), true)
    assert.equal(clash('[::1]:80', '[::]:80'), true)
  })
  test('unix sockets clash only on the same path', () => {
    assert.equal(clash('unix:/a', 'unix:/a'), true)
    assert.equal(clash('unix:/a', 'unix:/b'), false)
    assert.equal(clash('unix:/a', '127.0.0.1:80'), false)
  })
})

describe('listeners and admin', () => {
  test('default names take part in the uniqueness check', () => {
    const listeners = [{ name: 'listener-1', address: '127.0.0.1:1' }, { address: '127.0.0.1:2' }]
    assert.deepStrictEqual(problems({ listeners }), [
      'listeners[1]: duplicate listener name "listener-1" (first used at listeners[0].name)',
    ])
  })
  test('the admin API may not share a listener address', () => {
    assert.deepStrictEqual(
      problems({ listeners: LISTENERS, admin: { address: '0.0.0.0:8080', token_env: 'T' } }),
      ['admin.address: address conflicts with listeners[0].address'],
    )
  })
  test('a non-loopback admin address needs token_env; loopback and unix do not', () => {
    assert.equal(problems({ listeners: LISTENERS, admin: { address: '0.0.0.0:9901' } }).length, 1)
    assert.deepStrictEqual(
      problems({ listeners: LISTENERS, admin: { address: '0.0.0.0:9901', token_env: 'T' } }),
      [],
    )
    assert.deepStrictEqual(
      problems({ listeners: LISTENERS, admin: { address: '127.0.0.1:9901' } }),
      [],
    )
    assert.deepStrictEqual(problems({ listeners: LISTENERS, admin: { address: '[::1]:9901' } }), [])
    assert.deepStrictEqual(
      problems({ listeners: LISTENERS, admin: { address: 'unix:/run/a.sock' } }),
      [],
    )
  })
})

describe('upstreams', () => {
  test('targets or exactly one discovery', () => {
    const upstreams = {
      dns: { discovery: { dns: { name: 'a', port: 80 } } },
      etcd: { targets: [], discovery: { etcd: { prefix: '/a' } } },
      none: {},
      empty: { targets: [] },
      both: { discovery: { dns: { name: 'a', port: 80 }, etcd: { prefix: '/a' } } },
      neither: { discovery: {} },
    }
    const etcd = { endpoints: ['http://127.0.0.1:2379'] }
    assert.deepStrictEqual(problems({ listeners: LISTENERS, upstreams, etcd }), [
      'upstreams.none: an upstream needs targets or discovery',
      'upstreams.empty.targets: must not be empty unless discovery is set',
      'upstreams.both.discovery: exactly one of dns or etcd is required (found dns, etcd)',
      'upstreams.neither.discovery: exactly one of dns or etcd is required (found none)',
    ])
  })
  test("etcd discovery needs a cluster: the document's etcd.endpoints or fleet mode's", () => {
    const upstreams = {
      e: { discovery: { etcd: { prefix: '/a/' } } },
      d: { discovery: { dns: { name: 'a', port: 80 } } },
    }
    const doc = { listeners: LISTENERS, upstreams }
    assert.deepStrictEqual(problems(doc), [
      'upstreams.e.discovery.etcd: etcd discovery needs a cluster: set the top-level etcd.endpoints (or run in fleet mode, hitless run --etcd)',
    ])
    assert.deepStrictEqual(
      checkSemantics(doc, { etcdCluster: true }).map((f) => f.message),
      [],
      'fleet mode gives the cluster',
    )
    const withCluster = { ...doc, etcd: { endpoints: ['http://127.0.0.1:2379'] } }
    assert.deepStrictEqual(problems(withCluster), [])
  })
  test('targets are unique by origin, so the same server is not counted twice', () => {
    const targets = [
      { url: 'http://a' },
      { url: 'http://A:80/' },
      { url: 'https://a' },
      { url: 'http://a:8080' },
    ]
    assert.deepStrictEqual(problems({ listeners: LISTENERS, upstreams: { u: { targets } } }), [
      'upstreams.u.targets[1].url: duplicate target http://a:80 (same as targets[0])',
    ])
  })
  test('hash_key needs consistent-hash, also by default balancer', () => {
    const targets = [{ url: 'http://a' }]
    const upstreams = {
      ok: { balancer: 'consistent-hash' as const, hash_key: 'path', targets },
      weighted: { balancer: 'weighted' as const, hash_key: 'path', targets },
      implicit: { hash_key: 'path', targets },
    }
    assert.deepStrictEqual(problems({ listeners: LISTENERS, upstreams }), [
      'upstreams.weighted.hash_key: hash_key only applies to balancer consistent-hash (this upstream uses weighted)',
      'upstreams.implicit.hash_key: hash_key only applies to balancer consistent-hash (this upstream uses round-robin)',
    ])
  })
  test('a health check timeout fits within its interval, defaults included', () => {
    const targets = [{ url: 'http://a' }]
    const upstreams = {
      equal: { targets, health_check: { path: '/h', interval: '1s', timeout: '1000ms' } },
      longer: { targets, health_check: { path: '/h', interval: '1s', timeout: '1.001s' } },
      short: { targets, health_check: { path: '/h', interval: '999ms' } },
      long: { targets, health_check: { path: '/h', timeout: '6s' } },
    }
    assert.deepStrictEqual(problems({ listeners: LISTENERS, upstreams }), [
      'upstreams.longer.health_check.timeout: health check timeout 1.001s exceeds its interval 1s',
      'upstreams.short.health_check.interval: health check timeout 1s exceeds its interval 999ms',
      'upstreams.long.health_check.timeout: health check timeout 6s exceeds its interval 5s',
    ])
  })
})

describe('routes', () => {
  const upstreams = {
    users: { targets: [{ url: 'http://a' }] },
    orders: { targets: [{ url: 'http://b' }] },
  }
  test('names, defaults included, are unique', () => {
    const routes = [
      { name: 'route-1', match: { path: '/a' }, respond: {} },
      { match: { path: '/b' }, respond: {} },
      { name: 'route-1', match: { path: '/c' }, respond: {} },
    ]
    assert.deepStrictEqual(problems({ listeners: LISTENERS, routes }), [
      'routes[1]: duplicate route name "route-1" (first used at routes[0].name)',
      'routes[2].name: duplicate route name "route-1" (first used at routes[0].name)',
    ])
  })
  test('exactly one match kind and one action', () => {
    const routes = [
      { match: { path: '/a', regex: 'a' }, respond: {}, redirect: { location: '/' } },
      { match: { prefix: '/b' } },
    ]
    assert.deepStrictEqual(problems({ listeners: LISTENERS, routes }), [
      'routes[0].match: only one of path, prefix or regex is allowed (found path, regex)',
      'routes[0]: only one of upstream, split, respond or redirect is allowed (found respond, redirect)',
      'routes[1]: an action is required: one of upstream, split, respond or redirect',
    ])
  })
  test('upstream references resolve, with a hint for a near miss', () => {
    const routes = [
      { match: { path: '/a' }, upstream: 'user' },
      {
        match: { path: '/b' },
        split: [
          { upstream: 'orders', weight: 1 },
          { upstream: 'payments', weight: 1 },
        ],
      },
    ]
    assert.deepStrictEqual(problems({ listeners: LISTENERS, upstreams, routes }), [
      'routes[0].upstream: unknown upstream "user" [users]',
      'routes[1].split[1].upstream: unknown upstream "payments"',
    ])
  })
  test('204 and 304 responses carry no body', () => {
    const routes = [
      { match: { path: '/a' }, respond: { status: 204, body: 'x' } },
      { match: { path: '/b' }, respond: { status: 304, body: 'x' } },
      { match: { path: '/c' }, respond: { status: 204, body: '' } },
      { match: { path: '/d' }, respond: { status: 200, body: 'x' } },
    ]
    assert.deepStrictEqual(problems({ listeners: LISTENERS, routes }), [
      'routes[0].respond.body: a 204 response cannot have a body',
      'routes[1].respond.body: a 304 response cannot have a body',
    ])
  })
  test('header names differing only in case clash within one map, not across maps', () => {
    const routes = [
      {
        match: { path: '/a', headers: { 'X-A': '1', 'x-a': '2' } },
        respond: { headers: { 'X-A': '1' } },
        headers: {
          request: { set: { 'X-A': '1' }, add: { 'x-a': '2' } },
          response: { add: { A: '', a: '' } },
        },
      },
    ]
    assert.deepStrictEqual(problems({ listeners: LISTENERS, routes }), [
      'routes[0].match.headers.x-a: header "x-a" repeats "X-A" (header names are case-insensitive)',
      'routes[0].headers.response.add.a: header "a" repeats "A" (header names are case-insensitive)',
    ])
  })
})
