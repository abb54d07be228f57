/**
 * The error-code registry: the doc-sync test (fastify style) against docs/errors.md — codes
 * unique, every code documented, every documented code real, statuses as documented — plus the
 * typed error classes and formatConfigIssue.
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import {
  ConfigError,
  ErrorCode,
  GatewayError,
  UpstreamError,
  allErrorCodes,
  formatConfigIssue,
  publicMessageOf,
  statusOf,
} from '../../src/errors.ts'

/** The repository root: the nearest folder above this file that holds package.json. */
function repoRoot(): string {
  let dir = import.meta.dirname
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    assert.notEqual(parent, dir, 'no package.json above the test file')
    dir = parent
  }
  return dir
}

const DOC = readFileSync(join(repoRoot(), 'docs', 'errors.md'), 'utf8')

/** Rows of the doc's code table: code → the text of its status cell. */
function documentedRows(): Map<string, string> {
  const rows = new Map<string, string>()
  for (const line of DOC.split('\n')) {
    const m = /^\|\s*`(HITLESS_ERR_[A-Z0-9_]+)`\s*\|\s*([^|]*?)\s*\|/.exec(line)
    if (m !== null) {
      assert.ok(!rows.has(m[1]!), `${m[1]} has two rows in docs/errors.md`)
      rows.set(m[1]!, m[2]!)
    }
  }
  return rows
}

void describe('error codes and docs/errors.md', () => {
  const codes = allErrorCodes()
  const rows = documentedRows()

  void test('allErrorCodes lists every ErrorCode value', () => {
    assert.deepEqual([...codes], Object.values(ErrorCode))
    assert.ok(codes.length > 0)
  })

  void test('every code is unique', () => {
    assert.equal(new Set(codes).size, codes.length)
  })

  void test('every code is HITLESS_ERR_ plus its upper snake-case key', () => {
    for (const [key, code] of Object.entries(ErrorCode)) {
      assert.match(code, /^HITLESS_ERR_[A-Z]+(?:_[A-Z]+)*$/)
      assert.equal(code, `HITLESS_ERR_${key}`)
    }
  })

  void test('every code has a row in the table of docs/errors.md', () => {
    const missing = codes.filter((code) => !rows.has(code))
    assert.deepEqual(missing, [])
  })

  void test('every HITLESS_ERR_* named anywhere in docs/errors.md exists', () => {
    const named = new Set(DOC.match(/HITLESS_ERR_[A-Z0-9_]+/g) ?? [])
    const known = new Set<string>(codes)
    // `HITLESS_ERR_<AREA>_<WHAT>` in the intro is the pattern, not a code
    const unknown = [...named].filter((code) => !known.has(code) && !code.endsWith('_'))
    assert.deepEqual(unknown, [])
    assert.ok(named.size >= codes.length)
  })

  void test('statusOf matches the documented status for every row with a numeric status', () => {
    let checked = 0
    for (const [code, cell] of rows) {
      const m = /^(\d{3})\b/.exec(cell)
      if (m === null) continue
      assert.equal(statusOf(code as ErrorCode), Number(m[1]), code)
      checked++
    }
    assert.ok(checked >= 10, `only ${checked} rows had a numeric status`)
  })

  void test('every code has a short public message without the code or a stack in it', () => {
    for (const code of codes) {
      const message = publicMessageOf(code)
      assert.ok(message.length > 0 && message.length <= 60, code)
      assert.doesNotMatch(message, /HITLESS_ERR|\n|\bat /, code)
    }
  })

  void test('client-visible statuses are 4xx or 5xx (499 included)', () => {
    for (const code of codes) {
      const status = statusOf(code)
      assert.ok(status >= 400 && status <= 599, `${code}: ${status}`)
    }
  })
})

void describe('error classes', () => {
  void test('GatewayError carries code, the code’s status and its subclass name', () => {
    const err = new GatewayError(ErrorCode.BODY_TOO_LARGE, 'too big')
    assert.equal(err.code, ErrorCode.BODY_TOO_LARGE)
    assert.equal(err.status, 413)
    assert.equal(err.name, 'GatewayError')
    assert.equal(err.message, 'too big')
    assert.ok(err instanceof Error)
  })

  void test('GatewayError accepts an explicit status and a cause', () => {
    const cause = new Error('low level')
    const err = new GatewayError(ErrorCode.INTERNAL, 'x', { status: 503, cause })
    assert.equal(err.status, 503)
    assert.equal(err.cause, cause)
  })

  void test('GatewayError without a cause has no cause property', () => {
    assert.equal('cause' in new GatewayError(ErrorCode.INTERNAL, 'x'), false)
  })

  void test('UpstreamError keeps the attempt phase, target and retry condition', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    const err = new UpstreamError(ErrorCode.UPSTREAM_CONNECT_FAILED, 'refused', {
      phase: 'connect',
      target: 'http://127.0.0.1:9001',
      condition: 'connect-failure',
      cause,
    })
    assert.equal(err.name, 'UpstreamError')
    assert.equal(err.code, ErrorCode.UPSTREAM_CONNECT_FAILED)
    assert.equal(err.status, 502)
    assert.equal(err.phase, 'connect')
    assert.equal(err.target, 'http://127.0.0.1:9001')
    assert.equal(err.condition, 'connect-failure')
    assert.equal(err.cause, cause, 'the OS code stays on the cause, never as our code')
  })

  void test('ConfigError is CONFIG_INVALID with every issue and a count in its message', () => {
    const issues = [
      { path: 'routes[0].match', line: 3, column: 5, message: 'required' },
      { path: 'upstreams.a', line: null, column: null, message: 'no targets' },
    ]
    const err = new ConfigError('gw.yaml', issues)
    assert.equal(err.name, 'ConfigError')
    assert.equal(err.code, ErrorCode.CONFIG_INVALID)
    assert.equal(err.source, 'gw.yaml')
    assert.deepEqual(err.issues, issues)
    assert.equal(err.message, 'gw.yaml: 2 config error(s)')
  })
})

void describe('formatConfigIssue', () => {
  const CASES: readonly (readonly [Parameters<typeof formatConfigIssue>[0], string])[] = [
    [
      { path: 'routes[2].match.regex', line: 14, column: 7, message: 'invalid regex' },
      'routes[2].match.regex (14:7): invalid regex',
    ],
    [
      { path: 'upstreams.a', line: null, column: null, message: 'no targets' },
      'upstreams.a: no targets',
    ],
    [{ path: '', line: 1, column: 1, message: 'not a mapping' }, '(document) (1:1): not a mapping'],
    [{ path: 'x', line: 3, column: null, message: 'm' }, 'x (3:0): m'],
    [
      { path: 'routes[0].upstrem', line: 2, column: 5, message: 'unknown key', hint: 'upstream' },
      'routes[0].upstrem (2:5): unknown key (did you mean "upstream"?)',
    ],
  ]
  for (const [issue, expected] of CASES) {
    void test(`formats ${JSON.stringify(expected)}`, () => {
      assert.equal(formatConfigIssue(issue), expected)
    })
  }
})
