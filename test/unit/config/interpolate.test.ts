/**
 * `${VAR}` interpolation: expansion rules, re-typing of whole references, positions of errors,
 * and that a value can never change the document's structure.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Env } from '../../../src/config/interpolate.ts'
import { expandString, interpolate, retype } from '../../../src/config/interpolate.ts'
import { parseConfigText } from '../../../src/config/parse.ts'

const ENV: Env = { HOST: 'example.com', PORT: '8080', EMPTY: '', FLAG: 'true', TEXT: 'a: b' }

function expanded(text: string, env: Env = ENV): { value: string; whole: boolean } {
  const result = expandString(text, env)
  assert.ok(result.ok, result.ok ? '' : result.message)
  return { value: result.value, whole: result.whole }
}

function expandError(text: string, env: Env = ENV): string {
  const result = expandString(text, env)
  assert.ok(!result.ok, 'expected an error')
  return result.message
}

describe('expandString', () => {
  test('replaces references inside and around text', () => {
    assert.deepStrictEqual(expanded('${HOST}'), { value: 'example.com', whole: true })
    assert.deepStrictEqual(expanded('http://${HOST}:${PORT}/'), {
      value: 'http://example.com:8080/',
      whole: false,
    })
    assert.deepStrictEqual(expanded('${HOST}${PORT}'), { value: 'example.com8080', whole: false })
    assert.deepStrictEqual(expanded('no references'), { value: 'no references', whole: false })
    assert.deepStrictEqual(expanded(''), { value: '', whole: false })
  })
  test('defaults apply when the variable is unset or empty; a set variable wins', () => {
    assert.equal(expanded('${NOPE:-fallback}').value, 'fallback')
    assert.equal(expanded('${EMPTY:-fallback}').value, 'fallback')
    assert.equal(expanded('${HOST:-fallback}').value, 'example.com')
    assert.equal(expanded('${NOPE:-}').value, '')
    assert.equal(expanded('${NOPE:-a:-b {x}').value, 'a:-b {x')
    assert.deepStrictEqual(expanded('${NOPE:-5}'), { value: '5', whole: true })
  })
  test('an empty variable without a default is the empty string, an unset one an error', () => {
    assert.equal(expanded('[${EMPTY}]').value, '[]')
    assert.equal(expandError('${HITLESS_PORT}'), 'environment variable HITLESS_PORT is not set')
    assert.equal(expandError('${HITLESS_PORT}', {}), 'environment variable HITLESS_PORT is not set')
  })
  test('$${ is a literal ${; other dollars are kept', () => {
    assert.deepStrictEqual(expanded('$${HOST}'), { value: '${HOST}', whole: false })
    assert.equal(expanded('cost: $5, $HOST, $$, $').value, 'cost: $5, $HOST, $$, $')
    assert.equal(expanded('$$${HOST}').value, '$${HOST}') // scanned left to right
    assert.equal(expanded('$${HOST}-${PORT}').value, '${HOST}-8080')
  })
  test('malformed references are errors', () => {
    assert.match(expandError('${1X}'), /invalid reference "\$\{1X\}"/)
    assert.match(expandError('${}'), /invalid reference/)
    assert.match(expandError('${A-B}'), /invalid reference/)
    assert.match(expandError('${A:default}'), /invalid reference/)
    assert.equal(expandError('x ${HOST'), 'unterminated reference "${HOST"')
    assert.match(expandError('${A:-${B}}'), /nested reference/)
  })
})

test('retype reads numbers, booleans and null like YAML and keeps all other text as is', () => {
  assert.equal(retype('8080'), 8080)
  assert.equal(retype('0.25'), 0.25)
  assert.equal(retype('true'), true)
  assert.equal(retype('false'), false)
  assert.equal(retype('null'), null)
  for (const text of ['abc', '"quoted"', 'a: b', '[1, 2]', '- x', 'a\nb', '', '#x', '2s', '{']) {
    assert.equal(retype(text), text, JSON.stringify(text))
  }
})

describe('interpolate', () => {
  function run(
    text: string,
    env: Env = ENV,
    expectsString?: (path: readonly (string | number)[]) => boolean,
  ) {
    const parsed = parseConfigText(text, text.trimStart().startsWith('{') ? 'json' : 'yaml')
    assert.ok(parsed.ok)
    return interpolate(parsed.document, env, expectsString === undefined ? {} : { expectsString })
  }

  test('re-types whole references unless the key expects a string, quoted or not', () => {
    const text = 'port: ${PORT}\nquoted: "${PORT}"\nflag: ${FLAG}\nname: ${PORT}\nmixed: x${PORT}\n'
    const { value, issues } = run(text, ENV, (path) => path[0] === 'name')
    assert.deepStrictEqual(issues, [])
    assert.deepStrictEqual(value, {
      port: 8080,
      quoted: 8080,
      flag: true,
      name: '8080',
      mixed: 'x8080',
    })
  })
  test('works on JSON strings the same way', () => {
    const { value } = run(
      '{"port": "${PORT}", "name": "${PORT}"}',
      ENV,
      (path) => path[0] === 'name',
    )
    assert.deepStrictEqual(value, { port: 8080, name: '8080' })
  })
  test('a value cannot inject structure', () => {
    const { value } = run('a: ${TEXT}\nb: "${TEXT}"\nc: ["${TEXT}"]\n')
    assert.deepStrictEqual(value, { a: 'a: b', b: 'a: b', c: ['a: b'] })
  })
  test('keys and non-string values are left alone; block scalars are interpolated', () => {
    const { value } = run('${HOST}: 1\nn: 2\nblock: |\n  at ${HOST}\n')
    assert.deepStrictEqual(value, { '${HOST}': 1, n: 2, block: 'at example.com\n' })
  })
  test('reports every failure at its path and position, and lists the failed paths', () => {
    const { issues, failedPaths, value } = run('a:\n  - ok\n  - ${NOPE}\nb: {c: "${1X}"}\n')
    assert.deepStrictEqual(issues, [
      { path: 'a[1]', line: 3, column: 5, message: 'environment variable NOPE is not set' },
      {
        path: 'b.c',
        line: 4,
        column: 8,
        message: 'invalid reference "${1X}": expected ${NAME} or ${NAME:-default}',
      },
    ])
    assert.deepStrictEqual(failedPaths, [
      ['a', 1],
      ['b', 'c'],
    ])
    assert.deepStrictEqual(value, { a: ['ok', '${NOPE}'], b: { c: '${1X}' } })
  })
  test('an anchored value is interpolated once and shared by its aliases', () => {
    const { value } = run('a: &h ${HOST}\nb: *h\n')
    assert.deepStrictEqual(value, { a: 'example.com', b: 'example.com' })
  })
  test('does not modify the parsed document', () => {
    const parsed = parseConfigText('a: ${HOST}\n', 'yaml')
    assert.ok(parsed.ok)
    interpolate(parsed.document, ENV)
    assert.deepStrictEqual(parsed.document.value, { a: '${HOST}' })
    assert.deepStrictEqual(parsed.document.tree.toJS(), { a: '${HOST}' })
  })
})
