/**
 * Normalisation: built-in defaults, inheritance key by key, units, casing, and the shape of
 * optional blocks (filled when present, null when absent).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { normalizeConfig } from '../../../src/config/normalize.ts'
import type { RawConfigDocument } from '../../../src/config/schema.ts'
import type { GatewayConfig, RouteConfig, UpstreamConfig } from '../../../src/config/types.ts'

const LISTENERS = [{ address: '127.0.0.1:8080' }]
const TARGETS = [{ url: 'http://127.0.0.1:9001' }]

function upstreamOf(doc: RawConfigDocument, name: string): UpstreamConfig {
  const upstream = normalizeConfig(doc).upstreams.find((u) => u.name === name)
  assert.ok(upstream)
  return upstream
}

function routeOf(doc: RawConfigDocument, index = 0): RouteConfig {
  const route = normalizeConfig(doc).routes[index]
  assert.ok(route)
  return route
}

test('a minimal document gets every built-in default', () => {
  const expected: GatewayConfig = {
    listeners: [
      { name: 'listener-0', address: { kind: 'tcp', host: '127.0.0.1', port: 8080 }, tls: null },
    ],
    admin: null,
    limits: { maxHeaderBytes: 16_384, maxBodyBytes: 10_485_760, headerTimeoutMs: 10_000 },
    drainTimeoutMs: 30_000,
    upstreams: [],
    routes: [],
    etcd: null,
    rollout: null,
  }
  assert.deepStrictEqual(normalizeConfig({ listeners: LISTENERS }), expected)
})

describe('upstreams', () => {
  test('built-in defaults for balancer, weight, keepalive and timeouts; off blocks are null', () => {
    assert.deepStrictEqual(
      upstreamOf({ listeners: LISTENERS, upstreams: { u: { targets: TARGETS } } }, 'u'),
      {
        name: 'u',
        balancer: 'round-robin',
        hashKey: null,
        targets: [{ url: 'http://127.0.0.1:9001', origin: 'http://127.0.0.1:9001', weight: 1 }],
        healthCheck: null,
        outlier: null,
        discovery: null,
        keepalive: { maxConnections: 128, idleTimeoutMs: 30_000 },
        timeouts: { connectMs: 5000, responseHeaderMs: 30_000, idleMs: 60_000 },
      },
    )
  })
  test('timeouts: built-in ← defaults.timeouts ← upstream.timeouts, key by key', () => {
    const doc: RawConfigDocument = {
      listeners: LISTENERS,
      defaults: { timeouts: { connect: '2s', idle: '90s' } },
      upstreams: {
        plain: { targets: TARGETS },
        own: { targets: TARGETS, timeouts: { idle: '1m', response_header: '250ms' } },
      },
    }
    assert.deepStrictEqual(upstreamOf(doc, 'plain').timeouts, {
      connectMs: 2000,
      responseHeaderMs: 30_000,
      idleMs: 90_000,
    })
    assert.deepStrictEqual(upstreamOf(doc, 'own').timeouts, {
      connectMs: 2000,
      responseHeaderMs: 250,
      idleMs: 60_000,
    })
  })
  test('a key present but undefined (library callers) does not erase the inherited value', () => {
    const doc: RawConfigDocument = {
      listeners: LISTENERS,
      defaults: { timeouts: { connect: '2s' }, retries: { attempts: 4 } },
      upstreams: { u: { targets: TARGETS, timeouts: { connect: undefined } } },
      routes: [{ match: { path: '/' }, upstream: 'u', retries: { attempts: undefined } }],
    }
    assert.equal(upstreamOf(doc, 'u').timeouts.connectMs, 2000)
    assert.equal(routeOf(doc).retries.attempts, 4)
  })
  test('health check, outlier and keepalive fill in what is missing', () => {
    const doc: RawConfigDocument = {
      listeners: LISTENERS,
      upstreams: {
        u: {
          targets: TARGETS,
          health_check: { path: '/ready', timeout: '500ms' },
          outlier: { max_ejection_percent: 100 },
          keepalive: { idle_timeout: '5s' },
        },
      },
    }
    const u = upstreamOf(doc, 'u')
    assert.deepStrictEqual(u.healthCheck, {
      path: '/ready',
      intervalMs: 5000,
      timeoutMs: 500,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
    })
    assert.deepStrictEqual(u.outlier, {
      consecutiveFailures: 5,
      ejectionTimeMs: 30_000,
      maxEjectionPercent: 100,
    })
    assert.deepStrictEqual(u.keepalive, { maxConnections: 128, idleTimeoutMs: 5000 })
  })
  test('hashKey defaults to client-ip for consistent-hash only; header names lower-cased', () => {
    const doc: RawConfigDocument = {
      listeners: LISTENERS,
      upstreams: {
        a: { balancer: 'consistent-hash', targets: TARGETS },
        b: { balancer: 'consistent-hash', hash_key: 'header:X-User', targets: TARGETS },
        c: { balancer: 'random', targets: TARGETS },
      },
    }
    assert.deepStrictEqual(upstreamOf(doc, 'a').hashKey, { kind: 'client-ip' })
    assert.deepStrictEqual(upstreamOf(doc, 'b').hashKey, { kind: 'header', name: 'x-user' })
    assert.equal(upstreamOf(doc, 'c').hashKey, null)
  })
  test('target origins make the default port explicit and keep the url as written', () => {
    const targets = [{ url: 'HTTP://Example.com', weight: 3 }, { url: 'https://example.com' }]
    assert.deepStrictEqual(
      upstreamOf({ listeners: LISTENERS, upstreams: { u: { targets } } }, 'u').targets,
      [
        { url: 'HTTP://Example.com', origin: 'http://example.com:80', weight: 3 },
        { url: 'https://example.com', origin: 'https://example.com:443', weight: 1 },
      ],
    )
  })
  test('discovery: dns name lower-cased with a default interval; etcd prefix kept', () => {
    const doc: RawConfigDocument = {
      listeners: LISTENERS,
      upstreams: {
        d: { discovery: { dns: { name: 'Users.Internal', port: 8080 } } },
        e: { discovery: { etcd: { prefix: '/Svc/' } } },
      },
    }
    assert.deepStrictEqual(upstreamOf(doc, 'd').discovery, {
      kind: 'dns',
      name: 'users.internal',
      port: 8080,
      intervalMs: 10_000,
      servers: null,
    })
    assert.deepStrictEqual(upstreamOf(doc, 'e').discovery, { kind: 'etcd', prefix: '/Svc/' })
    assert.deepStrictEqual(upstreamOf(doc, 'e').targets, [])
  })
})

describe('routes', () => {
  const upstreams = { u: { targets: TARGETS } }
  test('retries: built-in ← defaults.retries ← route.retries; conditions as strings, once each', () => {
    const doc: RawConfigDocument = {
      listeners: LISTENERS,
      defaults: { retries: { on: ['reset', 502] } },
      upstreams,
      routes: [
        { match: { path: '/a' }, upstream: 'u' },
        {
          match: { path: '/b' },
          upstream: 'u',
          retries: { attempts: 0, on: [502, '502', 'timeout'], non_idempotent: true },
        },
      ],
    }
    assert.deepStrictEqual(routeOf(doc, 0).retries, {
      attempts: 1,
      on: ['reset', '502'],
      nonIdempotent: false,
    })
    assert.deepStrictEqual(routeOf(doc, 1).retries, {
      attempts: 0,
      on: ['502', 'timeout'],
      nonIdempotent: true,
    })
    assert.deepStrictEqual(
      routeOf({
        listeners: LISTENERS,
        upstreams,
        routes: [{ match: { path: '/' }, upstream: 'u' }],
      }).retries,
      {
        attempts: 1,
        on: ['connect-failure', 'reset', '502', '503', '504'],
        nonIdempotent: false,
      },
    )
  })
  test('maxBodyBytes: route limit, else defaults.limits, else 10 MiB', () => {
    const routes = [
      { match: { path: '/a' }, upstream: 'u', limits: { max_body_bytes: 0 } },
      { match: { path: '/b' }, upstream: 'u' },
    ]
    assert.equal(routeOf({ listeners: LISTENERS, upstreams, routes }, 0).maxBodyBytes, 0)
    assert.equal(routeOf({ listeners: LISTENERS, upstreams, routes }, 1).maxBodyBytes, 10_485_760)
    const withDefaults = {
      listeners: LISTENERS,
      defaults: { limits: { max_body_bytes: 1024 } },
      upstreams,
      routes,
    }
    assert.equal(routeOf(withDefaults, 1).maxBodyBytes, 1024)
  })
  test('route timeouts keep only the keys given, or are null', () => {
    const routes = [
      { match: { path: '/a' }, upstream: 'u', timeouts: { idle: '2h' } },
      { match: { path: '/b' }, upstream: 'u', timeouts: {} },
      { match: { path: '/c' }, upstream: 'u' },
    ]
    const doc = { listeners: LISTENERS, upstreams, routes }
    assert.deepStrictEqual(routeOf(doc, 0).timeouts, { idleMs: 7_200_000 })
    assert.equal(routeOf(doc, 1).timeouts, null)
    assert.equal(routeOf(doc, 2).timeouts, null)
  })
  test('match: methods upper-cased, hosts and header names lower-cased, duplicates dropped', () => {
    const match = {
      prefix: '/Api',
      methods: ['get', 'GET', 'Post'],
      hosts: ['API.example.com', '*.Example.COM'],
      headers: { 'X-Tenant': 'Acme' },
    }
    assert.deepStrictEqual(
      routeOf({ listeners: LISTENERS, upstreams, routes: [{ match, upstream: 'u' }] }).match,
      {
        kind: 'prefix',
        prefix: '/Api',
        methods: ['GET', 'POST'],
        hosts: ['api.example.com', '*.example.com'],
        headers: { 'x-tenant': 'Acme' },
      },
    )
    const bare = routeOf({
      listeners: LISTENERS,
      upstreams,
      routes: [{ match: { regex: '^/x', headers: {} }, upstream: 'u' }],
    })
    assert.deepStrictEqual(bare.match, {
      kind: 'regex',
      regex: '^/x',
      methods: null,
      hosts: null,
      headers: null,
    })
  })
  test('every action kind, with respond and redirect defaults', () => {
    const routes = [
      { match: { path: '/a' }, upstream: 'u' },
      { match: { path: '/b' }, split: [{ upstream: 'u', weight: 2 }] },
      { match: { path: '/c' }, respond: { headers: { 'Content-Type': 'text/plain' } } },
      { match: { path: '/d' }, redirect: { location: 'https://{host}{uri}' } },
      { match: { path: '/e' }, redirect: { location: '/x', status: 308 as const } },
    ]
    const actions = normalizeConfig({ listeners: LISTENERS, upstreams, routes }).routes.map(
      (r) => r.action,
    )
    assert.deepStrictEqual(actions, [
      { kind: 'forward', upstream: 'u' },
      { kind: 'split', backends: [{ upstream: 'u', weight: 2 }] },
      { kind: 'respond', status: 200, body: '', headers: { 'content-type': 'text/plain' } },
      { kind: 'redirect', location: 'https://{host}{uri}', status: 302 },
      { kind: 'redirect', location: '/x', status: 308 },
    ])
  })
  test('rewrite and header operations: absent fields null, names lower-cased, host lower-cased', () => {
    const route = routeOf({
      listeners: LISTENERS,
      upstreams,
      routes: [
        {
          match: { prefix: '/a' },
          upstream: 'u',
          rewrite: { strip_prefix: '/a', host: 'Users.Internal' },
          headers: {
            response: { set: { 'X-Frame-Options': 'DENY' }, remove: ['Server', 'server'] },
          },
        },
      ],
    })
    assert.deepStrictEqual(route.rewrite, {
      stripPrefix: '/a',
      addPrefix: null,
      regex: null,
      host: 'users.internal',
    })
    assert.deepStrictEqual(route.headers, {
      request: null,
      response: { set: { 'x-frame-options': 'DENY' }, add: {}, remove: ['server'] },
    })
  })
  test('routes without a name are called route-<index>', () => {
    const routes = [
      { name: 'first', match: { path: '/a' }, upstream: 'u' },
      { match: { path: '/b' }, upstream: 'u' },
    ]
    assert.deepStrictEqual(
      normalizeConfig({ listeners: LISTENERS, upstreams, routes }).routes.map((r) => r.name),
      ['first', 'route-1'],
    )
  })
})

test('listeners, admin, defaults, etcd and rollout', () => {
  const config = normalizeConfig({
    listeners: [
      { name: 'tls', address: '[::1]:8443', tls: { cert: 'c.pem', key: 'k.pem' } },
      { address: 'unix:/s' },
    ],
    admin: { address: 'Localhost:9901' },
    defaults: { drain_timeout: '0s', limits: { max_header_bytes: 8192, header_timeout: '2s' } },
    etcd: { endpoints: ['http://e:2379'] },
    rollout: { canary_percent: 10, window: '1m', max_error_rate: 0.02, sticky: 'cookie:Canary' },
  })
  assert.deepStrictEqual(config.listeners, [
    {
      name: 'tls',
      address: { kind: 'tcp', host: '::1', port: 8443 },
      tls: { certPath: 'c.pem', keyPath: 'k.pem' },
    },
    { name: 'listener-1', address: { kind: 'unix', path: '/s' }, tls: null },
  ])
  assert.deepStrictEqual(config.admin, {
    address: { kind: 'tcp', host: 'localhost', port: 9901 },
    tokenEnv: null,
  })
  assert.equal(config.drainTimeoutMs, 0)
  assert.deepStrictEqual(config.limits, {
    maxHeaderBytes: 8192,
    maxBodyBytes: 10_485_760,
    headerTimeoutMs: 2000,
  })
  assert.deepStrictEqual(config.etcd, { endpoints: ['http://e:2379'] })
  assert.deepStrictEqual(config.rollout, {
    canaryPercent: 10,
    windowMs: 60_000,
    maxErrorRate: 0.02,
    minRequests: 20,
    sticky: { kind: 'cookie', name: 'Canary' },
  })
})

test('a document the schema would reject is a bug, and fails loudly', () => {
  assert.throws(() => normalizeConfig({ listeners: [{ address: 'nonsense' }] }), {
    name: 'AssertionError',
  })
  assert.throws(
    () => normalizeConfig({ listeners: LISTENERS, routes: [{ match: {}, upstream: 'u' }] }),
    { name: 'AssertionError' },
  )
  assert.throws(
    () => normalizeConfig({ listeners: LISTENERS, routes: [{ match: { path: '/' } }] }),
    { name: 'AssertionError' },
  )
})
