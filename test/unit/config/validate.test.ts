/**
 * Validation: zod issues become located, user-facing issues; every error is collected; hints
 * are given only when close; semantic checks run once the structure is sound.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { ConfigIssue } from '../../../src/errors.ts'
import type { Locator } from '../../../src/config/validate.ts'
import { compareIssues, toConfigIssues, validateDocument } from '../../../src/config/validate.ts'
import { parseConfigText } from '../../../src/config/parse.ts'

const NOWHERE: Locator = { positionOf: () => null }
const LISTENERS = [{ address: '127.0.0.1:8080' }]

function issuesOf(value: unknown): Array<Pick<ConfigIssue, 'path' | 'message' | 'hint'>> {
  const result = validateDocument(value, NOWHERE)
  assert.ok(!result.ok, 'expected issues')
  return result.issues.map(({ path, message, hint }) =>
    hint === undefined ? { path, message } : { path, message, hint },
  )
}

function issuesOfYaml(text: string): ConfigIssue[] {
  const parsed = parseConfigText(text, 'yaml')
  assert.ok(parsed.ok)
  const result = validateDocument(parsed.document.value, parsed.document)
  assert.ok(!result.ok, 'expected issues')
  return [...result.issues]
}

describe('structure', () => {
  test('a valid document comes back typed, as parsed', () => {
    const doc = { listeners: LISTENERS, routes: [{ match: { path: '/' }, respond: {} }] }
    const result = validateDocument(doc, NOWHERE)
    assert.ok(result.ok)
    assert.deepStrictEqual(result.value, doc)
  })
  test('reports every error with its line and column, in document order', () => {
    const issues = issuesOfYaml(
      'routes:\n  - match: { prefix: 7 }\n    upstream: 1\nlisteners:\n  - address: 127.0.0.1\n    nmae: x\n',
    )
    assert.deepStrictEqual(issues, [
      {
        path: 'routes[0].match.prefix',
        line: 2,
        column: 22,
        message: 'expected a string (path), got 7',
      },
      { path: 'routes[0].upstream', line: 3, column: 15, message: 'expected a string, got 1' },
      {
        path: 'listeners[0].address',
        line: 5,
        column: 14,
        message: 'address "127.0.0.1" has no port; expected host:port',
      },
      {
        path: 'listeners[0].nmae',
        line: 6,
        column: 5,
        message: 'unknown key "nmae"',
        hint: 'name',
      },
    ])
  })
  test('an unknown key gets a hint when close, else the list of allowed keys', () => {
    assert.deepStrictEqual(issuesOf({ listeners: LISTENERS, rolout: {} }), [
      { path: 'rolout', message: 'unknown key "rolout"', hint: 'rollout' },
    ])
    assert.deepStrictEqual(
      issuesOf({ listeners: LISTENERS, admin: { address: '127.0.0.1:1', zzz: 1 } }),
      [{ path: 'admin.zzz', message: 'unknown key "zzz" (allowed: address, token_env)' }],
    )
  })
  test('a missing key that an unknown key misspells is reported once, as the typo', () => {
    assert.deepStrictEqual(issuesOf({ listeners: [{ adress: '127.0.0.1:1' }] }), [
      { path: 'listeners[0].adress', message: 'unknown key "adress"', hint: 'address' },
    ])
    assert.deepStrictEqual(issuesOf({ listeners: [{ nmae: 'x' }] }), [
      { path: 'listeners[0].address', message: 'missing required key "address"' },
      { path: 'listeners[0].nmae', message: 'unknown key "nmae"', hint: 'name' },
    ])
  })
  test('bare-number durations and addresses get a hint', () => {
    assert.deepStrictEqual(
      issuesOf({ listeners: [{ address: 8080 }], defaults: { drain_timeout: 30 } }),
      [
        {
          path: 'defaults.drain_timeout',
          message: 'duration 30 has no unit (ms, s, m or h)',
          hint: '30s',
        },
        {
          path: 'listeners[0].address',
          message: 'expected a string (address), got 8080',
          hint: '127.0.0.1:8080',
        },
      ],
    )
  })
  test('enum values get a hint; a choice lists each value once, words first', () => {
    const upstreams = { a: { balancer: 'least_request', targets: [{ url: 'http://a' }] } }
    const routes = [{ match: { path: '/' }, respond: {}, retries: { on: ['rest', 418, true] } }]
    const retryChoice =
      'expected one of connect-failure, reset, timeout, connect-timeout, 500, 502, 503, 504'
    assert.deepStrictEqual(issuesOf({ listeners: LISTENERS, upstreams, routes }), [
      { path: 'routes[0].retries.on[0]', message: `${retryChoice}, got "rest"`, hint: 'reset' },
      { path: 'routes[0].retries.on[1]', message: `${retryChoice}, got 418` },
      { path: 'routes[0].retries.on[2]', message: `${retryChoice}, got true` },
      {
        path: 'upstreams.a.balancer',
        message:
          'expected one of round-robin, weighted, least-request, random, consistent-hash, got "least_request"',
        hint: 'least-request',
      },
    ])
  })
  test('types, sizes and ranges are phrased for people', () => {
    const routes = [
      {
        name: '',
        match: { path: '/', methods: [] },
        respond: { status: 600 },
        rewrite: { regex: ['a'] },
      },
      { match: { path: '/' }, respond: {}, rewrite: { regex: ['(', 5] } },
    ]
    const rollout = { canary_percent: 5, window: '1s', max_error_rate: -0.5, min_requests: 1.5 }
    assert.deepStrictEqual(issuesOf({ listeners: {}, routes, rollout, etcd: { endpoints: [] } }), [
      { path: 'etcd.endpoints', message: 'must not be empty' },
      { path: 'listeners', message: 'expected a list, got a mapping' },
      { path: 'rollout.max_error_rate', message: 'must be at least 0' },
      { path: 'rollout.min_requests', message: 'expected an integer, got 1.5' },
      { path: 'routes[0].match.methods', message: 'must not be empty' },
      { path: 'routes[0].name', message: 'must not be empty' },
      { path: 'routes[0].respond.status', message: 'must be at most 599' },
      { path: 'routes[0].rewrite.regex', message: 'must have at least 2 items' },
      {
        path: 'routes[1].rewrite.regex[0]',
        message: 'invalid regex: Invalid regular expression: /(/: Unterminated group',
      },
      { path: 'routes[1].rewrite.regex[1]', message: 'expected a string, got 5' },
    ])
  })
  test('a bad map key points at the key', () => {
    const parsed = parseConfigText(
      'listeners: [{ address: "127.0.0.1:1" }]\nroutes:\n  - match: { path: /, headers: { "a b": x } }\n    respond: {}\n',
      'yaml',
    )
    assert.ok(parsed.ok)
    const result = validateDocument(parsed.document.value, parsed.document)
    assert.ok(!result.ok)
    assert.deepStrictEqual(result.issues, [
      {
        path: 'routes[0].match.headers["a b"]',
        line: 3,
        column: 34,
        message: 'invalid header name "a b"',
      },
    ])
  })
  test('an empty document, or one that is not a mapping', () => {
    assert.deepStrictEqual(issuesOf(null), [
      { path: '', message: 'the document is empty; expected a mapping with at least `listeners`' },
    ])
    assert.deepStrictEqual(issuesOf(['a']), [
      { path: '', message: 'expected a mapping, got a list' },
    ])
    assert.deepStrictEqual(issuesOf({}), [
      { path: 'listeners', message: 'missing required key "listeners"' },
    ])
  })
})

describe('semantics', () => {
  test('run only once the structure is valid', () => {
    const routes = [{ match: { path: '/' }, upstream: 'missing' }]
    assert.deepStrictEqual(issuesOf({ listeners: LISTENERS, routes, zzz: 1 }), [
      {
        path: 'zzz',
        message:
          'unknown key "zzz" (allowed: listeners, admin, defaults, upstreams, routes, etcd, rollout)',
      },
    ])
    assert.deepStrictEqual(issuesOf({ listeners: LISTENERS, routes }), [
      { path: 'routes[0].upstream', message: 'unknown upstream "missing"' },
    ])
  })
  test('report every semantic problem at once', () => {
    const doc = {
      listeners: [
        { name: 'a', address: '127.0.0.1:1' },
        { name: 'a', address: '127.0.0.1:1' },
      ],
      admin: { address: '10.0.0.1:9901' },
      upstreams: { u: {} },
      routes: [{ match: {}, upstream: 'v' }],
    }
    assert.deepStrictEqual(issuesOf(doc), [
      {
        path: 'admin.address',
        message:
          'a non-loopback admin address requires token_env (the environment variable holding the bearer token)',
      },
      { path: 'listeners[1].address', message: 'address conflicts with listeners[0].address' },
      {
        path: 'listeners[1].name',
        message: 'duplicate listener name "a" (first used at listeners[0].name)',
      },
      {
        path: 'routes[0].match',
        message: 'a match kind is required: one of path, prefix or regex',
      },
      { path: 'routes[0].upstream', message: 'unknown upstream "v"', hint: 'u' },
      { path: 'upstreams.u', message: 'an upstream needs targets or discovery' },
    ])
  })
})

describe('toConfigIssues', () => {
  test('drops exact duplicates and sorts by position, unknown positions first, then path', () => {
    const positions: Record<string, { line: number; column: number }> = {
      b: { line: 2, column: 1 },
      c: { line: 1, column: 5 },
      d: { line: 1, column: 5 },
    }
    const locator: Locator = { positionOf: (path) => positions[String(path[0])] ?? null }
    const issues = toConfigIssues(
      [
        { path: ['b'], message: 'x' },
        { path: ['d'], message: 'x' },
        { path: ['c'], message: 'x' },
        { path: ['a'], message: 'x' },
        { path: ['b'], message: 'x' },
        { path: ['b'], message: 'y', hint: 'h' },
      ],
      locator,
    )
    assert.deepStrictEqual(
      issues.map((i) => `${i.path}@${i.line}:${i.column} ${i.message}${i.hint ?? ''}`),
      ['a@null:null x', 'c@1:5 x', 'd@1:5 x', 'b@2:1 x', 'b@2:1 yh'],
    )
  })
  test('positions unknown keys at the key', () => {
    const seen: string[] = []
    const locator: Locator = {
      positionOf: (path, at) => {
        seen.push(`${path.join('.')}:${at ?? 'value'}`)
        return null
      },
    }
    toConfigIssues(
      [
        { path: ['x'], message: 'm', at: 'key' },
        { path: ['y'], message: 'm' },
      ],
      locator,
    )
    assert.deepStrictEqual(seen, ['x:key', 'y:value'])
  })
  test('compareIssues is a total order on line, column, path', () => {
    const at = (path: string, line: number | null, column: number | null): ConfigIssue => ({
      path,
      line,
      column,
      message: '',
    })
    assert.ok(compareIssues(at('a', null, null), at('a', 1, 1)) < 0)
    assert.ok(compareIssues(at('a', 2, 1), at('a', 1, 9)) > 0)
    assert.ok(compareIssues(at('z', 1, 1), at('a', 1, 2)) < 0)
    assert.ok(compareIssues(at('a', 1, 1), at('b', 1, 1)) < 0)
    assert.equal(compareIssues(at('a', 1, 1), at('a', 1, 1)), 0)
  })
})
