/** Version ids: stable across key order and spelling, sensitive to values. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { versionOf } from '../../../src/config/canonical.ts'
import { loadConfig } from '../../../src/config/load.ts'

const env = {}
const version = (text: string, source = 'x.yaml'): string =>
  loadConfig(text, { source, env }).version

const BASE = `
listeners:
  - { name: public, address: 127.0.0.1:8080 }
upstreams:
  users: { balancer: weighted, targets: [{ url: http://127.0.0.1:9001, weight: 2 }] }
routes:
  - { name: users, match: { prefix: /users }, upstream: users, timeouts: { idle: 1s } }
`

test('a version is 12 hex digits of the sha256 of the canonical normalised config', () => {
  const loaded = loadConfig(BASE, { source: 'x.yaml', env })
  assert.match(loaded.version, /^[0-9a-f]{12}$/)
  assert.equal(versionOf(loaded.config), loaded.version)
})

test('the version ignores key order, comments, quoting, spelling and the syntax', () => {
  const reordered = `
# a comment
routes:
  - { upstream: users, timeouts: { idle: 1000ms }, match: { prefix: "/users" }, name: users }
upstreams:
  users: { targets: [{ weight: 2, url: "http://127.0.0.1:9001" }], balancer: weighted }
listeners:
  - { address: '127.0.0.1:8080', name: public }
`
  const json = JSON.stringify({
    listeners: [{ name: 'public', address: '127.0.0.1:8080' }],
    upstreams: {
      users: { balancer: 'weighted', targets: [{ url: 'http://127.0.0.1:9001', weight: 2 }] },
    },
    routes: [
      { name: 'users', match: { prefix: '/users' }, upstream: 'users', timeouts: { idle: '1s' } },
    ],
  })
  assert.equal(version(reordered), version(BASE))
  assert.equal(version(json, 'x.json'), version(BASE))
})

test('the version changes when any value that matters changes', () => {
  const base = version(BASE)
  const variants = [
    BASE.replace('weight: 2', 'weight: 3'),
    BASE.replace('idle: 1s', 'idle: 2s'),
    BASE.replace('8080', '8081'),
    BASE.replace('prefix: /users', 'path: /users'),
    BASE.replace('name: users,', 'name: users2,'),
    `${BASE}defaults: { drain_timeout: 10s }\n`,
  ]
  const versions = variants.map((v) => version(v))
  for (const v of versions) assert.notEqual(v, base)
  assert.equal(new Set(versions).size, versions.length)
})

test('the version is the same for an explicit default and an omitted one', () => {
  assert.equal(version(`${BASE}defaults: { drain_timeout: 30s }\n`), version(BASE))
})
