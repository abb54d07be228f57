/**
 * normalizePath: RFC 3986 §6.2.2 normalisation of request-targets, as a table of inputs and
 * expected outputs, plus properties checked on generated targets (idempotence, no dot segments).
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { normalizePath } from '../../../src/router/normalize-path.ts'
import { createSeededRandom } from '../../helpers/seeded-random.ts'

type Expected = null | { path: string; query?: string; authority?: string }

/** [request-target, expected result (null: the gateway answers 400), why]. */
const CASES: readonly (readonly [string, Expected, string])[] = [
  // origin-form, fast path
  ['/', { path: '/' }, 'root'],
  ['/a/b', { path: '/a/b' }, 'plain path kept'],
  ['/a/b/', { path: '/a/b/' }, 'trailing slash kept'],
  ['/A/b', { path: '/A/b' }, 'case kept (paths are case-sensitive)'],
  ['/a//b', { path: '/a//b' }, 'empty segments are not merged'],
  ['//', { path: '//' }, 'double slash root kept'],
  ['/.well-known/x', { path: '/.well-known/x' }, 'dot-prefixed segment is not a dot segment'],
  ['/a/.../b', { path: '/a/.../b' }, 'three dots is an ordinary segment'],
  ['/a/..b/c', { path: '/a/..b/c' }, '..b is an ordinary segment'],
  ['/a.b/c.', { path: '/a.b/c.' }, 'dots inside segments kept'],
  ['/a?x=1', { path: '/a', query: '?x=1' }, 'query split off'],
  ['/a?', { path: '/a', query: '?' }, 'empty query kept verbatim'],
  ['/a?x=%2e%2e/../y', { path: '/a', query: '?x=%2e%2e/../y' }, 'query not normalised'],
  ['/a?b?c', { path: '/a', query: '?b?c' }, 'first ? starts the query'],
  ['/a?#x', { path: '/a', query: '?#x' }, 'query passed through untouched, even with #'],
  ['/caf\u00e9', { path: '/caf\u00e9' }, 'non-ASCII (latin1 from node) kept as received'],
  ['/a\\..\\b', { path: '/a\\..\\b' }, 'backslash is not a separator'],
  // dot segments (RFC 3986 §5.2.4)
  ['/a/./b', { path: '/a/b' }, 'single dot removed'],
  ['/a/b/..', { path: '/a/' }, 'trailing .. leaves a slash'],
  ['/a/b/.', { path: '/a/b/' }, 'trailing . leaves a slash'],
  ['/a/b/../c', { path: '/a/c' }, '.. removes the previous segment'],
  ['/a/..', { path: '/' }, 'back to the root'],
  ['/.', { path: '/' }, 'root dot'],
  ['/./', { path: '/' }, 'root dot slash'],
  ['/a/./../b', { path: '/b' }, 'mixed dots'],
  ['/a//../b', { path: '/a/b' }, '.. removes an empty segment'],
  ['/a/b/../../c/./d/', { path: '/c/d/' }, 'several steps'],
  ['/a/.?q=/..', { path: '/a/', query: '?q=/..' }, 'dot segment right before the query'],
  ['/a/..?q', { path: '/', query: '?q' }, 'dot-dot right before the query'],
  // above the root
  ['/..', null, 'above root'],
  ['/../x', null, 'above root, then a segment'],
  ['/a/../../x', null, 'above root after one segment'],
  ['/a/../..', null, 'above root at the end'],
  ['/%2e%2e/x', null, 'encoded .. above root'],
  ['/a/%2E%2E/%2e./x', null, 'mixed-case encoded .. above root'],
  // percent-encoding (RFC 3986 §6.2.2.1, §6.2.2.2)
  ['/%7euser', { path: '/~user' }, 'unreserved ~ decoded'],
  ['/%41%5a%61%7A%30%39', { path: '/AZaz09' }, 'ALPHA and DIGIT decoded'],
  ['/%2D%2E%5F%7E', { path: '/-._~' }, 'unreserved marks decoded'],
  ['/a%2fb', { path: '/a%2Fb' }, 'encoded slash kept, hex upper-cased'],
  ['/a%2Fb/..', { path: '/' }, 'an encoded slash does not split a segment'],
  ['/%3f%23%25', { path: '/%3F%23%25' }, 'reserved and % kept encoded'],
  ['/%20', { path: '/%20' }, 'encoded space kept'],
  ['/%c3%a9', { path: '/%C3%A9' }, 'UTF-8 bytes kept encoded, upper-cased'],
  ['/%00', { path: '/%00' }, 'encoded NUL kept encoded'],
  ['/a/%2e/b', { path: '/a/b' }, 'encoded . is a dot segment'],
  ['/a/b/%2e%2e/c', { path: '/a/c' }, 'encoded .. is a dot segment'],
  ['/a/.%2E', { path: '/' }, 'half-encoded .. is a dot segment'],
  ['/%2e%2e%2fx', { path: '/..%2Fx' }, 'encoded slash keeps ..%2F one segment'],
  ['/%zz', null, 'invalid escape'],
  ['/%4', null, 'truncated escape'],
  ['/%', null, 'lone percent'],
  ['/a%4?x', null, 'truncated escape before the query'],
  ['/a?%zz', { path: '/a', query: '?%zz' }, 'invalid escape in the query is not ours to judge'],
  // characters a request-target cannot hold (RFC 9112 §3.2)
  ['/a b', null, 'space'],
  ['/a\tb', null, 'tab'],
  ['/a\u0000', null, 'NUL'],
  ['/a\u007f', null, 'DEL'],
  ['/a#frag', null, 'fragment'],
  // other forms
  ['', null, 'empty target'],
  ['*', null, 'asterisk-form'],
  ['example.com:443', null, 'authority-form'],
  ['a/b', null, 'relative path'],
  ['ftp://h/a', null, 'other scheme'],
  ['http:/a', null, 'scheme without authority'],
  // absolute-form (RFC 9112 §3.2.2)
  [
    'http://Example.COM:8080/a/./b?x',
    { path: '/a/b', query: '?x', authority: 'example.com:8080' },
    'absolute-form',
  ],
  ['HTTPS://h/%7e', { path: '/~', authority: 'h' }, 'https, scheme case-insensitive'],
  ['http://h', { path: '/', authority: 'h' }, 'empty path means /'],
  ['http://h?q=1', { path: '/', query: '?q=1', authority: 'h' }, 'empty path with a query'],
  ['http://[::1]:80/x', { path: '/x', authority: '[::1]:80' }, 'IPv6 literal'],
  ['http:///a', null, 'empty authority'],
  ['http://user@h/a', null, 'userinfo is refused'],
  ['http://h/../a', null, 'above root in absolute-form'],
  ['http://h#x', null, 'fragment in the authority'],
]

void describe('normalizePath', () => {
  void test('the table holds at least 40 cases', () => {
    assert.ok(CASES.length >= 40)
  })

  for (const [input, expected, why] of CASES) {
    void test(`${why}: ${JSON.stringify(input)}`, () => {
      const got = normalizePath(input)
      if (expected === null) {
        assert.equal(got, null)
        return
      }
      assert.deepEqual(got, {
        path: expected.path,
        query: expected.query ?? '',
        authority: expected.authority ?? null,
      })
    })
  }

  void test('returns the very string received on the fast path', () => {
    const target = '/api/v1/users/42'
    assert.equal(normalizePath(target)?.path, target)
  })

  void test('is idempotent and leaves no dot segment, on 5,000 generated targets', () => {
    const random = createSeededRandom(0x5eed)
    const pieces = ['a', 'b', '.', '..', '%2e', '%2E%2e', '', '%7e', '%2f', '.x', '%41']
    for (let n = 0; n < 5000; n++) {
      let target = ''
      const segments = 1 + Math.floor(random() * 6)
      for (let s = 0; s < segments; s++) {
        target += '/' + (pieces[Math.floor(random() * pieces.length)] as string)
      }
      const once = normalizePath(target)
      if (once === null) continue
      assert.deepEqual(normalizePath(once.path), once, `not idempotent for ${target}`)
      assert.ok(!/\/\.\.?(\/|$)/.test(once.path), `dot segment left in ${once.path}`)
      for (const [escape, hex] of once.path.matchAll(/%(..)/g)) {
        assert.match(escape, /^%[0-9A-F]{2}$/, `escape not upper-case in ${once.path}`)
        const char = String.fromCharCode(parseInt(hex as string, 16))
        assert.doesNotMatch(char, /[A-Za-z0-9\-._~]/, `unreserved left encoded in ${once.path}`)
      }
    }
  })
})
