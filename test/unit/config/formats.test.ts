/**
 * The string formats of a config document: each parser accepts what the docs promise and
 * rejects the rest with a message (and a hint where one helps).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { FormatResult } from '../../../src/config/formats.ts'
import {
  expectValid,
  isEnvName,
  isHeaderValue,
  isHostname,
  isLoopback,
  isNameServer,
  isToken,
  MAX_DURATION_MS,
  parseAddress,
  parseDuration,
  parseHashKey,
  parseHostPattern,
  parseOriginUrl,
  parsePath,
  parseRegex,
  parseStickyKey,
  suggestDurationUnit,
  unknownPlaceholders,
} from '../../../src/config/formats.ts'

function value<T>(result: FormatResult<T>): T {
  assert.ok(result.ok, result.ok ? '' : result.message)
  return result.value
}

function failure<T>(result: FormatResult<T>): { message: string; hint?: string } {
  assert.ok(!result.ok, 'expected a failure')
  return result
}

describe('parseDuration', () => {
  test('reads every unit, fractions, and zero', () => {
    assert.equal(value(parseDuration('250ms')), 250)
    assert.equal(value(parseDuration('2s')), 2000)
    assert.equal(value(parseDuration('1.5s')), 1500)
    assert.equal(value(parseDuration('1m')), 60_000)
    assert.equal(value(parseDuration('1h')), 3_600_000)
    assert.equal(value(parseDuration('0s')), 0)
  })
  test('is exact for decimal fractions that binary floating point cannot represent', () => {
    assert.equal(value(parseDuration('1.001s')), 1001)
    assert.equal(value(parseDuration('0.1s')), 100)
    assert.equal(value(parseDuration('0.7s')), 700)
    assert.equal(value(parseDuration('2.5m')), 150_000)
    assert.equal(value(parseDuration('0.001s')), 1)
    assert.match(failure(parseDuration('0.0001s')).message, /whole number/)
  })
  test('rejects a bare number with a unit hint, and other shapes', () => {
    assert.deepStrictEqual(failure(parseDuration('30')), {
      ok: false,
      message: 'duration "30" has no unit (ms, s, m or h)',
      hint: '30s',
    })
    assert.equal(failure(parseDuration('2 S')).hint, '2s')
    assert.equal(failure(parseDuration('5 minutes')).hint, undefined)
    for (const bad of ['', '-1s', '1d', '1m30s', 's', '.5s', '1e3ms']) {
      assert.match(failure(parseDuration(bad)).message, /invalid duration/, bad)
    }
  })
  test('rejects durations that are not whole milliseconds or overflow Node timers', () => {
    assert.match(failure(parseDuration('1.5ms')).message, /whole number of milliseconds/)
    assert.equal(value(parseDuration(`${MAX_DURATION_MS}ms`)), MAX_DURATION_MS)
    assert.match(failure(parseDuration(`${MAX_DURATION_MS + 1}ms`)).message, /longer than/)
  })
  test('guesses milliseconds for large bare numbers and seconds for small ones', () => {
    assert.equal(suggestDurationUnit(2), '2s')
    assert.equal(suggestDurationUnit(99), '99s')
    assert.equal(suggestDurationUnit(100), '100ms')
  })
})

describe('parseAddress', () => {
  test('reads host:port, [ipv6]:port and unix paths; lower-cases hosts', () => {
    assert.deepStrictEqual(value(parseAddress('127.0.0.1:8080')), {
      kind: 'tcp',
      host: '127.0.0.1',
      port: 8080,
    })
    assert.deepStrictEqual(value(parseAddress('LocalHost:0')), {
      kind: 'tcp',
      host: 'localhost',
      port: 0,
    })
    assert.deepStrictEqual(value(parseAddress('[::1]:65535')), {
      kind: 'tcp',
      host: '::1',
      port: 65535,
    })
    assert.deepStrictEqual(value(parseAddress('unix:/run/h.sock')), {
      kind: 'unix',
      path: '/run/h.sock',
    })
  })
  test('rejects missing ports and hosts, bad ports, unbracketed IPv6 and bad hosts', () => {
    assert.match(failure(parseAddress('localhost')).message, /no port/)
    assert.equal(failure(parseAddress(':80')).hint, '0.0.0.0:80')
    assert.equal(failure(parseAddress('::1:80')).hint, '[::1]:80')
    assert.match(failure(parseAddress('a:65536')).message, /invalid port/)
    assert.match(failure(parseAddress('a:-1')).message, /invalid port/)
    assert.match(failure(parseAddress('a:')).message, /invalid port/)
    assert.match(failure(parseAddress('[127.0.0.1]:80')).message, /invalid host/)
    assert.match(failure(parseAddress('a b:80')).message, /invalid host/)
    assert.match(failure(parseAddress('unix:')).message, /socket path/)
  })
  test('knows which addresses only this machine can reach', () => {
    const loopback = [
      '127.0.0.1:1',
      '127.9.9.9:1',
      'localhost:1',
      'api.localhost:1',
      '[::1]:1',
      'unix:/x',
    ]
    for (const a of loopback)
      assert.equal(isLoopback(expectValid(parseAddress(a), 'address')), true, a)
    for (const a of ['0.0.0.0:1', '10.0.0.1:1', '[::]:1', 'example.com:1', '[::ffff:10.0.0.1]:1']) {
      assert.equal(isLoopback(expectValid(parseAddress(a), 'address')), false, a)
    }
    assert.equal(isLoopback(expectValid(parseAddress('[::ffff:127.0.0.1]:1'), 'address')), true)
  })
})

describe('parseOriginUrl', () => {
  test('gives protocol//host:port with the default port explicit', () => {
    assert.equal(value(parseOriginUrl('http://127.0.0.1:9001')), 'http://127.0.0.1:9001')
    assert.equal(value(parseOriginUrl('http://Example.COM')), 'http://example.com:80')
    assert.equal(value(parseOriginUrl('https://example.com/')), 'https://example.com:443')
    assert.equal(value(parseOriginUrl('http://[::1]:80')), 'http://[::1]:80')
  })
  test('rejects other schemes, paths, queries, fragments, credentials, port 0', () => {
    assert.equal(failure(parseOriginUrl('127.0.0.1:9001')).hint, 'http://127.0.0.1:9001')
    assert.equal(failure(parseOriginUrl('localhost:9001')).hint, 'http://localhost:9001')
    assert.match(failure(parseOriginUrl('ftp://a')).message, /http:\/\/ or https:\/\//)
    for (const bad of ['http://a/x', 'http://a?x', 'http://a/?', 'http://a#f', 'http://a/#']) {
      assert.match(failure(parseOriginUrl(bad)).message, /path, query or fragment/, bad)
    }
    assert.match(failure(parseOriginUrl('http://u:p@a')).message, /credentials/)
    assert.match(failure(parseOriginUrl('http://a:0')).message, /port 0/)
    assert.match(failure(parseOriginUrl('http://')).message, /invalid URL/)
  })
})

describe('tokens, header values, hosts, names', () => {
  test('header names and methods are RFC 9110 tokens', () => {
    for (const ok of ['x-env', 'Content-Type', 'GET', "a!#$%&'*+-.^_`|~9"])
      assert.equal(isToken(ok), true, ok)
    for (const bad of ['', 'a b', 'a:b', 'a(b', 'é', 'a\nb']) assert.equal(isToken(bad), false, bad)
  })
  test('header values may hold tabs and Latin-1 but no control characters', () => {
    for (const ok of ['', 'a b\tc', 'café']) assert.equal(isHeaderValue(ok), true, ok)
    for (const bad of ['a\nb', 'a\rb', 'a\0', '\x7f', '€'])
      assert.equal(isHeaderValue(bad), false, bad)
  })
  test('host names and patterns', () => {
    assert.equal(isHostname('api.example.com'), true)
    assert.equal(isHostname('10.0.0.1'), true)
    assert.equal(isHostname('-bad.com'), false)
    assert.equal(isHostname(`${'a'.repeat(250)}.com`), false)
    assert.equal(value(parseHostPattern('*.Example.com')), '*.example.com')
    assert.equal(value(parseHostPattern('api.example.com:8443')), 'api.example.com:8443')
    for (const bad of ['*', '*.*.a.com', 'a.*.com', 'a b', 'a.com:'])
      assert.ok(!parseHostPattern(bad).ok, bad)
  })
  test('environment variable names', () => {
    assert.equal(isEnvName('HITLESS_TOKEN'), true)
    assert.equal(isEnvName('_x1'), true)
    assert.equal(isEnvName('1X'), false)
    assert.equal(isEnvName('A-B'), false)
  })
})

describe('request keys', () => {
  test('hash keys: header (lower-cased), cookie (case kept), client-ip, path', () => {
    assert.deepStrictEqual(value(parseHashKey('header:X-User')), { kind: 'header', name: 'x-user' })
    assert.deepStrictEqual(value(parseHashKey('cookie:SID')), { kind: 'cookie', name: 'SID' })
    assert.deepStrictEqual(value(parseHashKey('client-ip')), { kind: 'client-ip' })
    assert.deepStrictEqual(value(parseHashKey('path')), { kind: 'path' })
    assert.match(failure(parseHashKey('header:')).message, /valid header name/)
    assert.match(failure(parseHashKey('cookie:a b')).message, /valid cookie name/)
    assert.match(failure(parseHashKey('ip')).message, /client-ip, path, header:NAME, cookie:NAME/)
  })
  test('sticky keys are the same minus path', () => {
    assert.deepStrictEqual(value(parseStickyKey('header:X-Canary')), {
      kind: 'header',
      name: 'x-canary',
    })
    assert.deepStrictEqual(value(parseStickyKey('client-ip')), { kind: 'client-ip' })
    assert.match(failure(parseStickyKey('path')).message, /client-ip, header:NAME, cookie:NAME$/)
  })
})

describe('paths, regexes, placeholders', () => {
  test('paths start with / and carry no query, fragment or space', () => {
    assert.equal(value(parsePath('/api/v1/')), '/api/v1/')
    assert.equal(failure(parsePath('api')).hint, '/api')
    for (const bad of ['/a?b', '/a#b', '/a b'])
      assert.match(failure(parsePath(bad)).message, /must not contain/)
  })
  test('regexes compile or report the engine message', () => {
    assert.ok(value(parseRegex('^/a/(\\d+)$')).test('/a/12'))
    assert.match(failure(parseRegex('(')).message, /^invalid regex: .*Unterminated group/)
  })
  test('redirect placeholders', () => {
    assert.deepStrictEqual(unknownPlaceholders('https://{host}{path}?{query}{uri}'), [])
    assert.deepStrictEqual(unknownPlaceholders('/{Path}/{}/{x}'), ['Path', '', 'x'])
  })
})

test('expectValid returns the value, and asserts on a failure (a bug, not a user error)', () => {
  assert.equal(expectValid(parseDuration('1s'), 'duration'), 1000)
  assert.throws(() => expectValid(parseDuration('x'), 'duration'), { name: 'AssertionError' })
})

describe('isNameServer', () => {
  test('an IP, or an IP with a port (IPv6 in brackets)', () => {
    for (const ok of ['10.0.0.2', '::1', '127.0.0.1:5353', '[::1]:53', '[fe80::1]:5353']) {
      assert.equal(isNameServer(ok), true, ok)
    }
  })
  test('names, bad ports and unbracketed IPv6 with a port are refused', () => {
    for (const bad of [
      'dns.internal',
      '127.0.0.1:0',
      '127.0.0.1:70000',
      '::1:53x',
      '[10.0.0.1]:53',
      '',
    ]) {
      assert.equal(isNameServer(bad), false, bad)
    }
  })
})
