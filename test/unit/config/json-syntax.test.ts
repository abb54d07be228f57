/** The strict JSON checker: valid JSON passes, each kind of error is located exactly. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { findDuplicateKey, findJsonSyntaxError } from '../../../src/config/json-syntax.ts'

test('accepts every JSON value form', () => {
  const valid = [
    '{}',
    '[]',
    ' {"a": [1, -2.5e+3, 0, 0.5, 1E2, true, false, null, "x\\n\\u00e9\\"\\\\\\/"], "b": {}}\n',
    '"just a string"',
    '42',
    '\t[\r\n]',
  ]
  for (const text of valid) {
    assert.equal(findJsonSyntaxError(text), null, text)
    assert.doesNotThrow(() => JSON.parse(text))
  }
})

test('locates each kind of error', () => {
  const cases: Array<[string, number, string]> = [
    ['', 0, 'expected a value, found end of input'],
    ['{"a": 1,}', 8, 'trailing comma'],
    ['[1,]', 3, 'trailing comma'],
    ['{a: 1}', 1, 'expected a double-quoted key, found "a"'],
    ['{"a" 1}', 5, 'expected ":", found "1"'],
    ['{"a": 1 "b": 2}', 8, 'expected "," or "}", found "\\""'],
    ['[1 2]', 3, 'expected "," or "]", found "2"'],
    ['{"a": "x', 6, 'unterminated string'],
    ['"a\nb"', 2, 'control character in string'],
    ['"\\x"', 1, 'invalid escape in string'],
    ['"\\u12"', 1, 'invalid escape in string'],
    ['01', 1, 'invalid number'],
    ['1.', 1, 'invalid number'],
    ['-', 0, 'invalid number'],
    ['{} {}', 3, 'unexpected content after the value'],
    ["{'a': 1}", 1, 'expected a double-quoted key, found "\'"'],
    ['[1] // comment', 4, 'unexpected content after the value'],
    ['nul', 0, 'expected a value, found "n"'],
  ]
  for (const [text, offset, message] of cases) {
    assert.deepStrictEqual(findJsonSyntaxError(text), { offset, message }, text)
    assert.throws(() => JSON.parse(text), SyntaxError, text)
  }
})

test('reports absurd nesting instead of overflowing the stack', () => {
  const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`
  assert.deepStrictEqual(findJsonSyntaxError(deep)?.message, 'nesting too deep')
})

test('findDuplicateKey: a key repeated in one object, compared decoded', () => {
  const cases: [string, number | null][] = [
    ['{"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]}', null],
    ['{"a": 1, "a": 2}', 9],
    ['{"x": {"k": 1, "k": 2}}', 15],
    ['{"a": 1, "\\u0061": 2}', 9],
    ['[{"s": "not a key: \\"s\\": {"}, {"s": "\\\\"}]', null],
    ['{"q\\"": 1, "q\\"": 2}', 11],
    ['{"v": ["a", "a"], "w": "a"}', null],
    ['{ "a" : { } , "b" : [ ] , "a" : 0 }', 26],
  ]
  for (const [text, offset] of cases) {
    assert.doesNotThrow(() => JSON.parse(text), text)
    assert.equal(findDuplicateKey(text)?.offset ?? null, offset, text)
  }
})
