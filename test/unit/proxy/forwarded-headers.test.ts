/**
 * The header lists that cross the proxy: upstream-bound (hop-by-hop stripped, the proxy's own
 * X-Forwarded-* / X-Real-IP / X-Request-Id written once, route rules applied) and client-bound
 * (from undici's Buffer pairs, X-Request-Id replaced, Connection: close on request).
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  buildResponseHeaders,
  buildUpstreamHeaders,
  newRequestId,
} from '../../../src/proxy/forwarded-headers.ts'
import type { ForwardInput } from '../../../src/proxy/forwarded-headers.ts'
import type { RequestHead } from '../../../src/proxy/request-head.ts'
import { compileHeaderOps } from '../../../src/snapshot/route-entry.ts'
import type { CompiledHeaderOps } from '../../../src/snapshot/route-entry.ts'
import type { HeaderOps } from '../../../src/config/types.ts'

function head(overrides: Partial<RequestHead> = {}): RequestHead {
  return {
    host: 'gw.example',
    hostname: 'gw.example',
    contentLength: -1,
    hasBody: false,
    requestId: null,
    forwardedFor: null,
    connection: undefined,
    ...overrides,
  }
}

function upstream(rawHeaders: readonly string[], overrides: Partial<ForwardInput> = {}): string[] {
  return buildUpstreamHeaders({
    rawHeaders,
    head: head(),
    clientIp: '192.0.2.7',
    proto: 'http',
    requestId: 'req-1',
    hostHeader: 'gw.example',
    ops: null,
    ...overrides,
  })
}

function ops(rules: Partial<HeaderOps>): CompiledHeaderOps {
  const compiled = compileHeaderOps({ set: {}, add: {}, remove: [], ...rules })
  assert.ok(compiled !== null)
  return compiled
}

/** The flat list as `name: value` strings, for readable whole-list assertions. */
function lines(flat: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < flat.length; i += 2) out.push(`${flat[i]}: ${flat[i + 1]}`)
  return out
}

/** Every value sent under `name` (case-insensitive), in order. */
function valuesOf(flat: readonly string[], name: string): string[] {
  const out: string[] = []
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i]!.toLowerCase() === name) out.push(flat[i + 1]!)
  }
  return out
}

function buffers(flat: readonly string[]): Buffer[] {
  return flat.map((s) => Buffer.from(s, 'latin1'))
}

void describe('buildUpstreamHeaders', () => {
  void test('sends Host first, then the end-to-end headers with their case, then its own', () => {
    const out = upstream(['Accept', 'text/html', 'X-Custom', 'A', 'x-custom', 'B'])
    assert.deepEqual(lines(out), [
      'host: gw.example',
      'Accept: text/html',
      'X-Custom: A',
      'x-custom: B',
      'x-forwarded-for: 192.0.2.7',
      'x-forwarded-proto: http',
      'x-forwarded-host: gw.example',
      'x-real-ip: 192.0.2.7',
      'x-request-id: req-1',
    ])
  })

  void test('never forwards a hop-by-hop header', () => {
    const hop = [
      'Connection',
      'keep-alive',
      'Keep-Alive',
      'timeout=5',
      'Proxy-Connection',
      'keep-alive',
      'TE',
      'trailers',
      'Trailer',
      'x-checksum',
      'Transfer-Encoding',
      'chunked',
      'Upgrade',
      'h2c',
    ]
    const out = upstream(['Accept', '*/*', ...hop], { head: head({ connection: 'keep-alive' }) })
    for (const name of ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer']) {
      assert.deepEqual(valuesOf(out, name), [], name)
    }
    assert.deepEqual(valuesOf(out, 'transfer-encoding'), [])
    assert.deepEqual(valuesOf(out, 'upgrade'), [])
    assert.deepEqual(valuesOf(out, 'accept'), ['*/*'])
  })

  void test('drops the headers the client named in Connection, whatever their case', () => {
    const out = upstream(
      ['X-Secret', 's', 'x-other', 'o', 'Accept', '*/*', 'Connection', 'X-SECRET, close, x-other'],
      {
        head: head({ connection: 'X-SECRET, close, x-other' }),
      },
    )
    assert.deepEqual(valuesOf(out, 'x-secret'), [])
    assert.deepEqual(valuesOf(out, 'x-other'), [])
    assert.deepEqual(valuesOf(out, 'accept'), ['*/*'])
  })

  void test("replaces the client's copies of the headers the proxy writes itself", () => {
    const spoofed = [
      'Host',
      'evil.example',
      'Expect',
      '100-continue',
      'X-Forwarded-Proto',
      'https',
      'X-Forwarded-Host',
      'evil.example',
      'X-Real-IP',
      '10.9.9.9',
      'X-Request-Id',
      'client-id',
    ]
    const out = upstream(spoofed, { hostHeader: 'backend.internal', proto: 'https' })
    assert.deepEqual(valuesOf(out, 'host'), ['backend.internal'])
    assert.deepEqual(valuesOf(out, 'expect'), [])
    assert.deepEqual(valuesOf(out, 'x-forwarded-proto'), ['https'])
    assert.deepEqual(valuesOf(out, 'x-forwarded-host'), ['gw.example'])
    assert.deepEqual(valuesOf(out, 'x-real-ip'), ['192.0.2.7'])
    assert.deepEqual(valuesOf(out, 'x-request-id'), ['req-1'])
  })

  void test('appends the client address to the X-Forwarded-For chain it received', () => {
    const out = upstream(['X-Forwarded-For', '203.0.113.1, 198.51.100.2'], {
      head: head({ forwardedFor: '203.0.113.1, 198.51.100.2' }),
    })
    assert.deepEqual(valuesOf(out, 'x-forwarded-for'), ['203.0.113.1, 198.51.100.2, 192.0.2.7'])
  })

  void test('starts X-Forwarded-For with the client address when none was received', () => {
    assert.deepEqual(valuesOf(upstream([]), 'x-forwarded-for'), ['192.0.2.7'])
  })

  void test('X-Forwarded-Host is the Host the client sent, even when the route rewrites Host', () => {
    const out = upstream([], {
      head: head({ host: 'Public.Example:8080' }),
      hostHeader: 'internal',
    })
    assert.deepEqual(valuesOf(out, 'x-forwarded-host'), ['Public.Example:8080'])
    assert.deepEqual(valuesOf(out, 'host'), ['internal'])
  })

  void describe('route header rules', () => {
    void test('remove drops the named client headers, case-insensitively', () => {
      const out = upstream(['Cookie', 'a=1', 'Accept', '*/*'], { ops: ops({ remove: ['COOKIE'] }) })
      assert.deepEqual(valuesOf(out, 'cookie'), [])
      assert.deepEqual(valuesOf(out, 'accept'), ['*/*'])
    })

    void test("set replaces the client's value; add keeps it and appends", () => {
      const rules = ops({ set: { 'X-Tenant': 'gw' }, add: { 'X-Tag': 'gw' } })
      const out = upstream(['x-tenant', 'client', 'X-Tag', 'client'], { ops: rules })
      assert.deepEqual(valuesOf(out, 'x-tenant'), ['gw'])
      assert.deepEqual(valuesOf(out, 'x-tag'), ['client', 'gw'])
    })

    void test('appends set rules before add rules, after the proxy headers', () => {
      const rules = ops({ set: { 'X-S1': '1', 'X-S2': '2' }, add: { 'X-A1': '3' } })
      const out = upstream(['Accept', '*/*'], { ops: rules })
      assert.deepEqual(lines(out).slice(-4), [
        'x-request-id: req-1',
        'X-S1: 1',
        'X-S2: 2',
        'X-A1: 3',
      ])
    })

    void test('a route that sets a proxy-written header (X-Forwarded-Proto) sends one value, not two', () => {
      const out = upstream([], { ops: ops({ set: { 'X-Forwarded-Proto': 'https' } }) })
      assert.deepEqual(valuesOf(out, 'x-forwarded-proto'), ['https'])
    })
  })

  void test("a client's Connection header cannot strip the proxy's own or the route's headers", () => {
    const connection = 'x-forwarded-for, x-real-ip, x-request-id, x-tenant'
    const out = upstream(['Connection', connection], {
      head: head({ connection }),
      ops: ops({ set: { 'x-tenant': 'gw' } }),
    })
    assert.deepEqual(valuesOf(out, 'x-forwarded-for'), ['192.0.2.7'])
    assert.deepEqual(valuesOf(out, 'x-real-ip'), ['192.0.2.7'])
    assert.deepEqual(valuesOf(out, 'x-request-id'), ['req-1'])
    assert.deepEqual(valuesOf(out, 'x-tenant'), ['gw'])
  })
})

void describe('buildResponseHeaders', () => {
  void test('converts Buffer pairs to strings, keeping name case and latin1 bytes', () => {
    const raw = [
      Buffer.from('Content-Type'),
      Buffer.from('text/plain'),
      Buffer.from('X-Name'),
      Buffer.from([0x63, 0x61, 0x66, 0xe9]),
    ]
    const out = buildResponseHeaders(raw, 'req-1', null, false)
    assert.deepEqual(lines(out), [
      'Content-Type: text/plain',
      'X-Name: caf\u00e9',
      'x-request-id: req-1',
    ])
  })

  void test('drops hop-by-hop headers and those the upstream named in Connection', () => {
    const raw = buffers([
      'Connection',
      'keep-alive, X-Internal',
      'Keep-Alive',
      'timeout=5',
      'Transfer-Encoding',
      'chunked',
      'X-Internal',
      'secret',
      'ETag',
      '"v1"',
    ])
    const out = buildResponseHeaders(raw, 'req-1', null, false)
    assert.deepEqual(lines(out), ['ETag: "v1"', 'x-request-id: req-1'])
  })

  void test("replaces the upstream's X-Request-Id with the gateway's", () => {
    const out = buildResponseHeaders(buffers(['X-Request-Id', 'upstream-id']), 'req-1', null, false)
    assert.deepEqual(valuesOf(out, 'x-request-id'), ['req-1'])
  })

  void test('adds Connection: close only when asked to', () => {
    assert.deepEqual(valuesOf(buildResponseHeaders([], 'r', null, true), 'connection'), ['close'])
    assert.deepEqual(valuesOf(buildResponseHeaders([], 'r', null, false), 'connection'), [])
  })

  void test('applies the route response rules: remove, then set, then add', () => {
    const rules = ops({
      remove: ['server'],
      set: { 'Cache-Control': 'no-store' },
      add: { Vary: 'Origin' },
    })
    const raw = buffers(['Server', 'nginx', 'cache-control', 'max-age=60', 'Vary', 'Accept'])
    const out = buildResponseHeaders(raw, 'req-1', rules, true)
    assert.deepEqual(lines(out), [
      'Vary: Accept',
      'x-request-id: req-1',
      'Cache-Control: no-store',
      'Vary: Origin',
      'connection: close',
    ])
  })

  void test("an upstream's Connection header cannot strip the gateway's X-Request-Id, route headers or Connection: close", () => {
    const rules = ops({ set: { 'Cache-Control': 'no-store' } })
    const raw = buffers(['Connection', 'x-request-id, cache-control, connection'])
    const out = buildResponseHeaders(raw, 'req-1', rules, true)
    assert.deepEqual(valuesOf(out, 'x-request-id'), ['req-1'])
    assert.deepEqual(valuesOf(out, 'cache-control'), ['no-store'])
    assert.deepEqual(valuesOf(out, 'connection'), ['close'])
  })
})

void describe('newRequestId', () => {
  void test('returns a fresh UUID v4 each call', () => {
    const a = newRequestId()
    const b = newRequestId()
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    assert.notEqual(a, b)
  })
})

void test('a route that sets Host sends exactly that one Host', () => {
  const out = buildUpstreamHeaders({
    rawHeaders: ['Host', 'client.example'],
    head: {
      host: 'client.example',
      hostname: 'client.example',
      contentLength: -1,
      hasBody: false,
      requestId: null,
      forwardedFor: null,
      connection: undefined,
    },
    clientIp: '127.0.0.1',
    proto: 'http',
    requestId: 'id-1',
    hostHeader: 'client.example',
    ops: { remove: new Set(['host']), append: ['host', 'internal.example'] },
  })
  const hosts = out.filter((_, i) => i % 2 === 0 && out[i]!.toLowerCase() === 'host')
  assert.equal(hosts.length, 1)
  assert.equal(out[out.indexOf('host') + 1], 'internal.example')
})
