/**
 * buildSnapshot with a real registry, metrics and a config from loadConfig: compiled routes,
 * and registry references that keep pools and target state across rebuilds, free them when the
 * last snapshot using them is retired, and are given back when a build throws.
 */

import { afterEach, beforeEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { buildSnapshot } from '../../../src/snapshot/build.ts'
import type { Snapshot } from '../../../src/snapshot/snapshot.ts'
import type { RouteEntry, UpstreamRuntime } from '../../../src/snapshot/route-entry.ts'
import { loadConfig } from '../../../src/config/load.ts'
import type { GatewayConfig } from '../../../src/config/types.ts'
import { UpstreamRegistry } from '../../../src/upstream/registry.ts'
import { GatewayMetrics } from '../../../src/metrics/metrics.ts'
import { createLogger } from '../../../src/log/logger.ts'

const LISTENERS = "listeners: [{ address: '127.0.0.1:0' }]\n"

function load(yaml: string): { config: GatewayConfig; version: string } {
  return loadConfig(LISTENERS + yaml, { source: 'test.yaml', env: {} })
}

/** One upstream `users` (with the given keepalive line) and one route forwarding to it. */
function usersConfig(opts: { maxConnections?: number; targets?: readonly number[] } = {}) {
  const targets = (opts.targets ?? [9001]).map((p) => `{ url: 'http://127.0.0.1:${p}' }`)
  return load(`
upstreams:
  users:
    keepalive: { max_connections: ${opts.maxConnections ?? 8}, idle_timeout: 1s }
    targets: [${targets.join(', ')}]
routes:
  - name: users
    match: { prefix: /users }
    upstream: users
`)
}

function upstreamOf(snapshot: Snapshot, name: string): UpstreamRuntime {
  const upstream = snapshot.upstreams.get(name)
  assert.ok(upstream !== undefined, `upstream ${name}`)
  return upstream
}

function lookup(snapshot: Snapshot, path: string, method = 'GET'): RouteEntry | undefined {
  return snapshot.router.lookup({ method, host: 'a.example', path, headers: {} })
}

void describe('buildSnapshot', () => {
  let registry: UpstreamRegistry
  let metrics: GatewayMetrics
  const logger = createLogger({ level: 'silent' })
  const build = (loaded: { config: GatewayConfig; version: string }): Snapshot =>
    buildSnapshot(loaded.config, loaded.version, { registry, metrics, logger })

  beforeEach(() => {
    registry = new UpstreamRegistry()
    metrics = new GatewayMetrics({ processMetrics: false })
  })
  afterEach(async () => {
    await registry.destroy()
  })

  void describe('compiled routes', () => {
    void test('routes requests to the compiled entries, in config order', () => {
      const snapshot = build(
        load(`
upstreams:
  users: { targets: [{ url: 'http://127.0.0.1:9001' }, { url: 'http://127.0.0.1:9002', weight: 3 }] }
routes:
  - name: users
    match: { prefix: /users }
    upstream: users
  - name: moved
    match: { prefix: /old }
    redirect: { location: 'https://{host}/new{path}', status: 301 }
`),
      )
      assert.equal(snapshot.version.length, 12)
      const users = lookup(snapshot, '/users/7')
      assert.equal(users?.name, 'users')
      assert.equal(users.action.kind, 'forward')
      const moved = lookup(snapshot, '/old/x')
      assert.deepEqual(moved?.action.kind === 'redirect' && moved.action.parts, [
        'https://',
        { placeholder: 'host' },
        '/new',
        { placeholder: 'path' },
      ])
      assert.equal(lookup(snapshot, '/nowhere'), undefined)
      const targets = upstreamOf(snapshot, 'users').targets
      assert.deepEqual(
        targets.map((t) => [t.key, t.weight]),
        [
          ['http://127.0.0.1:9001', 1],
          ['http://127.0.0.1:9002', 3],
        ],
      )
      snapshot.retire()
    })

    void test("a route's timeouts override its upstream's, key by key", () => {
      const snapshot = build(
        load(`
upstreams:
  users:
    timeouts: { connect: 1s, response_header: 2s, idle: 3s }
    targets: [{ url: 'http://127.0.0.1:9001' }]
routes:
  - match: { prefix: / }
    upstream: users
    timeouts: { response_header: 5s }
`),
      )
      const action = lookup(snapshot, '/x')?.action
      assert.ok(action?.kind === 'forward')
      assert.deepEqual(action.backend.timeouts, {
        connectMs: 1000,
        responseHeaderMs: 5000,
        idleMs: 3000,
      })
      snapshot.retire()
    })

    void test('a respond body is UTF-8 bytes with a Content-Length that replaces any configured one', () => {
      const snapshot = build(
        load(`
upstreams: {}
routes:
  - match: { path: /hi }
    respond: { status: 201, body: "h\u00e9llo", headers: { Content-Length: '99', x-a: b } }
`),
      )
      const action = lookup(snapshot, '/hi')?.action
      assert.ok(action?.kind === 'respond')
      assert.equal(action.status, 201)
      assert.deepEqual(action.body, Buffer.from('h\u00e9llo', 'utf8'))
      assert.deepEqual(action.headers, ['x-a', 'b', 'content-length', '6'])
      snapshot.retire()
    })

    void test('a split keeps cumulative weight bounds per backend', () => {
      const snapshot = build(
        load(`
upstreams:
  blue: { targets: [{ url: 'http://127.0.0.1:9001' }] }
  green: { targets: [{ url: 'http://127.0.0.1:9002' }] }
routes:
  - match: { prefix: / }
    split: [{ upstream: blue, weight: 90 }, { upstream: green, weight: 10 }]
`),
      )
      const action = lookup(snapshot, '/')?.action
      assert.ok(action?.kind === 'split')
      assert.deepEqual(
        action.backends.map((b) => [b.backend.upstream.name, b.bound]),
        [
          ['blue', 90],
          ['green', 100],
        ],
      )
      assert.equal(action.total, 100)
      snapshot.retire()
    })
  })

  void describe('registry references', () => {
    void test('two builds with the same upstream share one pool and one target state', () => {
      const first = build(usersConfig())
      const second = build(usersConfig())
      const a = upstreamOf(first, 'users').targets[0]!
      const b = upstreamOf(second, 'users').targets[0]!
      assert.equal(a.pool, b.pool)
      assert.equal(a.state, b.state)
      assert.equal(registry.poolCount, 1)
      first.retire()
      assert.equal(registry.poolCount, 1, 'the second snapshot still holds the pool')
      assert.equal(b.pool.closed, false)
      second.retire()
      assert.equal(registry.poolCount, 0)
      assert.equal(b.pool.closed, true)
    })

    void test('target state (health, in-flight) survives a rebuild and the retirement of the old snapshot', () => {
      const first = build(usersConfig())
      upstreamOf(first, 'users').targets[0]!.state.consecutiveFailures = 3
      const second = build(usersConfig())
      first.retire()
      assert.equal(upstreamOf(second, 'users').targets[0]!.state.consecutiveFailures, 3)
      second.retire()
    })

    void test('a changed keepalive setting gives the target a new pool but keeps its state', () => {
      const first = build(usersConfig({ maxConnections: 8 }))
      const second = build(usersConfig({ maxConnections: 16 }))
      const a = upstreamOf(first, 'users').targets[0]!
      const b = upstreamOf(second, 'users').targets[0]!
      assert.notEqual(a.pool, b.pool)
      assert.equal(a.state, b.state)
      assert.equal(registry.poolCount, 2)
      first.retire()
      assert.equal(registry.poolCount, 1)
      assert.equal(a.pool.closed, true, 'the old pool is closed')
      assert.equal(b.pool.closed, false)
      second.retire()
    })

    void test('retiring the old snapshot frees the pools of targets the new config dropped', () => {
      const first = build(usersConfig({ targets: [9001, 9002, 9003] }))
      const second = build(usersConfig({ targets: [9001] }))
      assert.equal(registry.poolCount, 3)
      assert.equal(registry.states().length, 3)
      first.retire()
      assert.equal(registry.poolCount, 1)
      assert.deepEqual(
        registry.states().map((s) => s.origin),
        ['http://127.0.0.1:9001'],
      )
      second.retire()
    })

    void test('the old snapshot frees its pools only after its last pinned request', () => {
      const first = build(usersConfig({ targets: [9001, 9002] }))
      const second = build(usersConfig({ targets: [9001] }))
      first.pin()
      first.retire()
      assert.equal(registry.poolCount, 2)
      first.unpin()
      assert.equal(registry.poolCount, 1)
      second.retire()
    })

    void test('a build that throws releases what it acquired, leaving shared entries alive', () => {
      const live = build(usersConfig({ targets: [9001] }))
      const livePool = upstreamOf(live, 'users').targets[0]!.pool
      const good = usersConfig({ targets: [9001, 9002] })
      const route = good.config.routes[0]!
      const broken: GatewayConfig = {
        ...good.config,
        routes: [{ ...route, action: { kind: 'forward', upstream: 'missing' } }],
      }
      assert.throws(() => buildSnapshot(broken, 'broken', { registry, metrics, logger }), /missing/)
      assert.equal(registry.poolCount, 1, 'only the live snapshot’s pool is left')
      assert.equal(registry.states().length, 1)
      assert.equal(livePool.closed, false)
      live.retire()
      assert.equal(registry.poolCount, 0, 'the shared entry was not double-released')
    })
  })
})
