/**
 * Parsing: YAML and JSON text to a tree and a value, syntax issues with line:column, and the
 * path → position lookup every later error relies on.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { SourceDocument } from '../../../src/config/parse.ts'
import { detectFormat, parseConfigText } from '../../../src/config/parse.ts'

function parsed(text: string, format: 'yaml' | 'json' = 'yaml'): SourceDocument {
  const result = parseConfigText(text, format)
  assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.issues))
  return result.document
}

function issuesOf(text: string, format: 'yaml' | 'json' = 'yaml') {
  const result = parseConfigText(text, format)
  assert.ok(!result.ok, 'expected parse issues')
  return result.issues
}

const DOC = [
  'listeners:', //                             line 1
  '  - name: public', //                       line 2
  '    address: 127.0.0.1:8080', //            line 3
  'routes:', //                                line 4
  '  - match: { prefix: /a, methods: [GET] }', // line 5
  '    respond:', //                           line 6
  'upstreams:', //                             line 7
  '  "a.b": &t', //                            line 8
  '    targets: [{ url: http://x }]', //       line 9
  '  c: *t', //                                line 10
].join('\n')

describe('positionOf', () => {
  const doc = parsed(DOC)
  test('points at a value, or at its key on request', () => {
    assert.deepStrictEqual(doc.positionOf(['listeners', 0, 'address']), { line: 3, column: 14 })
    assert.deepStrictEqual(doc.positionOf(['listeners', 0, 'address'], 'key'), {
      line: 3,
      column: 5,
    })
    assert.deepStrictEqual(doc.positionOf(['routes', 0, 'match', 'prefix']), {
      line: 5,
      column: 22,
    })
    assert.deepStrictEqual(doc.positionOf(['routes', 0, 'match', 'methods', 0]), {
      line: 5,
      column: 36,
    })
  })
  test('points at list items and mappings by where they start', () => {
    assert.deepStrictEqual(doc.positionOf(['listeners']), { line: 2, column: 3 })
    assert.deepStrictEqual(doc.positionOf(['listeners', 0]), { line: 2, column: 5 })
    assert.deepStrictEqual(doc.positionOf(['routes', 0, 'match']), { line: 5, column: 12 })
    assert.deepStrictEqual(doc.positionOf([]), { line: 1, column: 1 })
  })
  test('an empty value points at its key', () => {
    assert.deepStrictEqual(doc.positionOf(['routes', 0, 'respond']), { line: 6, column: 5 })
    assert.deepStrictEqual(doc.positionOf(['routes', 0, 'respond', 'status']), {
      line: 6,
      column: 5,
    })
  })
  test('a missing key resolves to the deepest node that exists', () => {
    assert.deepStrictEqual(doc.positionOf(['listeners', 0, 'tls', 'cert']), { line: 2, column: 5 })
    assert.deepStrictEqual(doc.positionOf(['listeners', 7]), { line: 2, column: 3 })
    assert.deepStrictEqual(doc.positionOf(['nope'], 'key'), { line: 1, column: 1 })
  })
  test('follows aliases to their anchor and matches keys that are not plain words', () => {
    assert.deepStrictEqual(doc.positionOf(['upstreams', 'a.b', 'targets', 0, 'url']), {
      line: 9,
      column: 22,
    })
    assert.deepStrictEqual(doc.positionOf(['upstreams', 'c', 'targets', 0, 'url']), {
      line: 9,
      column: 22,
    })
    assert.deepStrictEqual(doc.positionOf(['upstreams', 'c']), { line: 10, column: 6 })
  })
  test('an empty document has no positions', () => {
    assert.equal(parsed('# nothing\n').positionOf(['listeners']), null)
    assert.equal(parsed('').value, null)
  })
  test('counts lines in CRLF text too', () => {
    const crlf = parsed('a: 1\r\nb:\r\n  c: 2\r\n')
    assert.deepStrictEqual(crlf.positionOf(['b', 'c']), { line: 3, column: 6 })
  })
})

describe('values', () => {
  test('YAML and JSON give plain data; aliases are expanded', () => {
    const doc = parsed(DOC)
    assert.deepStrictEqual(doc.value, {
      listeners: [{ name: 'public', address: '127.0.0.1:8080' }],
      routes: [{ match: { prefix: '/a', methods: ['GET'] }, respond: null }],
      upstreams: {
        'a.b': { targets: [{ url: 'http://x' }] },
        c: { targets: [{ url: 'http://x' }] },
      },
    })
    const json = parsed('{\n  "a": [1, true, null, "x", {"b": -1.5e2}]\n}', 'json')
    assert.deepStrictEqual(json.value, { a: [1, true, null, 'x', { b: -150 }] })
    assert.deepStrictEqual(json.positionOf(['a', 4, 'b']), { line: 2, column: 35 })
  })
  test('a __proto__ key is plain data, not a prototype', () => {
    const value = parsed('__proto__: { polluted: true }\n').value as Record<string, unknown>
    assert.equal(Object.getPrototypeOf(value), Object.prototype)
    assert.ok(Object.hasOwn(value, '__proto__'))
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined)
  })
})

describe('syntax issues', () => {
  test('a YAML syntax error has a position and no path', () => {
    assert.deepStrictEqual(issuesOf('a:\n  b: [1, 2}\n'), [
      {
        path: '',
        line: 2,
        column: 11,
        message:
          'YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
      },
    ])
  })
  test('a cascade of errors at one spot is reported once', () => {
    assert.equal(issuesOf('a: "unclosed\n').length, 1)
  })
  test('a duplicate key is named by its path, at the second occurrence', () => {
    assert.deepStrictEqual(issuesOf('a:\n  b: 1\n  c: 2\n  b: 3\n'), [
      { path: 'a.b', line: 4, column: 3, message: 'duplicate key' },
    ])
    assert.deepStrictEqual(issuesOf('{"l": [{"x": 1, "x": 2}]}', 'json'), [
      { path: 'l[0].x', line: 1, column: 17, message: 'duplicate key' },
    ])
  })
  test('a second document, an unknown tag, a missing or recursive alias', () => {
    assert.deepStrictEqual(issuesOf('a: 1\n---\nb: 2\n'), [
      { path: '', line: 2, column: 1, message: 'a config must be a single YAML document' },
    ])
    assert.match(issuesOf('a: !foo x\n')[0]?.message ?? '', /Unresolved tag: !foo/)
    assert.deepStrictEqual(issuesOf('a:\n  b: *nope\n'), [
      { path: 'a.b', line: 2, column: 6, message: 'unknown alias *nope' },
    ])
    assert.deepStrictEqual(issuesOf('a: &x\n  - *x\n'), [
      { path: 'a[0]', line: 2, column: 5, message: 'alias *x refers to a node containing it' },
    ])
  })
  test('an alias bomb is refused, not expanded', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
    for (let i = 0; i < 8; i++)
      lines.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(', ')}]`,
      )
    const issues = issuesOf(`${lines.join('\n')}\n`)
    assert.equal(issues.length, 1)
    assert.match(issues[0]?.message ?? '', /alias/i)
  })
  test('JSON is held to JSON syntax, with positions', () => {
    assert.deepStrictEqual(issuesOf('{\n  "a": [1, 2,]\n}', 'json'), [
      { path: '', line: 2, column: 14, message: 'JSON syntax error: trailing comma' },
    ])
    assert.deepStrictEqual(issuesOf('{"a": tru}', 'json'), [
      { path: '', line: 1, column: 7, message: 'JSON syntax error: expected a value, found "t"' },
    ])
    assert.deepStrictEqual(issuesOf('a: 1\n', 'json'), [
      { path: '', line: 1, column: 1, message: 'JSON syntax error: expected a value, found "a"' },
    ])
    // The same text is fine as YAML.
    assert.ok(parseConfigText('{"a": tru}', 'yaml').ok)
  })
})

test('detectFormat uses the extension, else the content', () => {
  assert.equal(detectFormat('x.json', 'a: 1'), 'json')
  assert.equal(detectFormat('X.JSON', ''), 'json')
  assert.equal(detectFormat('x.yaml', '{"a": 1}'), 'yaml')
  assert.equal(detectFormat('x.yml', '{"a": 1}'), 'yaml')
  assert.equal(detectFormat('etcd:/hitless/config', ' \n{"a": 1}'), 'json')
  assert.equal(detectFormat('etcd:/hitless/config', '[1]'), 'json')
  assert.equal(detectFormat('etcd:/hitless/config', '{a: 1}'), 'yaml')
  assert.equal(detectFormat('etcd:/hitless/config', 'a: 1'), 'yaml')
})

test('an empty list item points at its list', () => {
  const doc = parsed('a:\n  - x\n  -\n')
  assert.deepStrictEqual(doc.positionOf(['a', 1]), { line: 2, column: 3 })
  assert.deepStrictEqual(doc.positionOf(['a', 1, 'b']), { line: 2, column: 3 })
})
