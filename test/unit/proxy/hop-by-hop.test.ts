/**
 * Hop-by-hop handling (RFC 9110 §7.6.1): the fixed list, the header names a Connection value
 * lists (its plain options excluded), and removing named pairs from a flat header list.
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { HOP_BY_HOP, connectionNamedHeaders, removeNamed } from '../../../src/proxy/hop-by-hop.ts'

void describe('HOP_BY_HOP', () => {
  void test('lists the RFC 9110 connection-specific fields plus Proxy-Connection, lower-case', () => {
    assert.deepEqual([...HOP_BY_HOP].sort(), [
      'connection',
      'keep-alive',
      'proxy-connection',
      'te',
      'trailer',
      'transfer-encoding',
      'upgrade',
    ])
  })

  void test('does not list end-to-end fields such as Content-Length or Trailers', () => {
    assert.equal(HOP_BY_HOP.has('content-length'), false)
    assert.equal(HOP_BY_HOP.has('trailers'), false)
  })
})

void describe('connectionNamedHeaders', () => {
  void test('is null without a Connection value', () => {
    assert.equal(connectionNamedHeaders(undefined), null)
  })

  for (const value of ['close', 'keep-alive', 'Upgrade', 'Keep-Alive, Upgrade', ' , ,', '']) {
    void test(`is null when ${JSON.stringify(value)} names no header`, () => {
      assert.equal(connectionNamedHeaders(value), null)
    })
  }

  void test('returns the other tokens, trimmed and lower-cased, without the plain options', () => {
    const named = connectionNamedHeaders(' X-Foo ,close,  x-BAR, keep-alive ,x-foo')
    assert.deepEqual([...(named ?? [])].sort(), ['x-bar', 'x-foo'])
  })
})

void describe('removeNamed', () => {
  void test('removes every pair whose name is in the set, whatever its case, keeping order', () => {
    const flat = ['A', '1', 'X-Foo', '2', 'b', '3', 'x-foo', '4', 'C', '5']
    assert.deepEqual(removeNamed(flat, new Set(['x-foo'])), ['A', '1', 'b', '3', 'C', '5'])
  })

  void test('never drops a pair because its value matches a name', () => {
    assert.deepEqual(removeNamed(['A', 'x-foo'], new Set(['x-foo'])), ['A', 'x-foo'])
  })

  void test('returns a new array and leaves the input as it was', () => {
    const flat = ['A', '1', 'B', '2']
    const out = removeNamed(flat, new Set(['a']))
    assert.deepEqual(out, ['B', '2'])
    assert.deepEqual(flat, ['A', '1', 'B', '2'])
  })
})
