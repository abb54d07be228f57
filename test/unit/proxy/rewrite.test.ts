/**
 * rewritePath: strip_prefix (segment-aware), then the regex, then add_prefix, always giving a
 * path that starts with `/`. The rewrite under test is compiled the way the snapshot does it.
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { rewritePath } from '../../../src/proxy/rewrite.ts'
import { compileRewrite } from '../../../src/snapshot/route-entry.ts'
import type { RewriteConfig } from '../../../src/config/types.ts'

function rewrite(path: string, config: Partial<RewriteConfig>): string {
  const compiled = compileRewrite({
    stripPrefix: null,
    addPrefix: null,
    regex: null,
    host: null,
    ...config,
  })
  assert.ok(compiled !== null, 'the rewrite compiles to something')
  return rewritePath(path, compiled)
}

/** [path, rewrite, expected, why]. */
const CASES: readonly (readonly [string, Partial<RewriteConfig>, string, string])[] = [
  // strip_prefix
  ['/api/users', { stripPrefix: '/api' }, '/users', 'strips a leading segment'],
  ['/api/a/b', { stripPrefix: '/api/a' }, '/b', 'strips several segments'],
  ['/api', { stripPrefix: '/api' }, '/', 'the whole path stripped leaves the root'],
  ['/api/', { stripPrefix: '/api' }, '/', 'a trailing slash is what remains'],
  ['/apiary', { stripPrefix: '/api' }, '/apiary', 'only whole segments are stripped'],
  ['/v1/api/x', { stripPrefix: '/api' }, '/v1/api/x', 'only at the start'],
  ['/API/x', { stripPrefix: '/api' }, '/API/x', 'case-sensitive, like paths'],
  ['/api/x', { stripPrefix: '/api/' }, '/x', 'a trailing slash in the config is ignored'],
  ['/x', { stripPrefix: '/' }, '/x', 'stripping the root changes nothing'],
  // regex
  ['/users/42', { regex: ['^/users/(\\d+)$', '/people/$1'] }, '/people/42', 'capture groups'],
  ['/a/a', { regex: ['a', 'b'] }, '/b/a', 'replaces the first match only'],
  ['/nomatch', { regex: ['^/zzz', '/y'] }, '/nomatch', 'no match leaves the path'],
  ['/users/42', { regex: ['^/users/', ''] }, '/42', 'a result without a leading slash gets one'],
  ['/x', { regex: ['^/x$', ''] }, '/', 'an empty result becomes the root'],
  // add_prefix
  ['/users', { addPrefix: '/v2' }, '/v2/users', 'prepends'],
  ['/', { addPrefix: '/v2' }, '/v2/', 'the root keeps its slash under the prefix'],
  ['/users', { addPrefix: '/v2/' }, '/v2/users', 'a trailing slash in the config does not double'],
  ['/users', { addPrefix: '/' }, '/users', 'adding the root changes nothing'],
  // combinations, in the documented order: strip, regex, add
  ['/api/users', { stripPrefix: '/api', addPrefix: '/v2' }, '/v2/users', 'strip then add'],
  ['/api', { stripPrefix: '/api', addPrefix: '/v2' }, '/v2/', 'strip to the root then add'],
  [
    '/api/users/7',
    { stripPrefix: '/api', regex: ['^/users/(\\d+)', '/u/$1'], addPrefix: '/v3' },
    '/v3/u/7',
    'the regex sees the stripped path and the prefix is added last',
  ],
  [
    '/api/x',
    { stripPrefix: '/api', regex: ['^/api', '/zzz'] },
    '/x',
    'the regex runs after stripping, so it cannot see the stripped prefix',
  ],
  [
    '/x',
    { regex: ['^/x', '/v2/x'], addPrefix: '/v2' },
    '/v2/v2/x',
    'add_prefix applies to the regex result',
  ],
]

void describe('rewritePath', () => {
  for (const [path, config, expected, why] of CASES) {
    void test(`${why}: ${path} → ${expected}`, () => {
      assert.equal(rewrite(path, config), expected)
    })
  }
})
