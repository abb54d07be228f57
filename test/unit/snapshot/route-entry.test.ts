/**
 * Per-route compilation done once at snapshot build: header rules (remove set, then set and add
 * pairs), rewrites (null when they change nothing, trailing slashes trimmed) and redirect
 * locations split into literal text and placeholders.
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  TargetRef,
  compileHeaderOps,
  compileRedirect,
  compileRewrite,
} from '../../../src/snapshot/route-entry.ts'
import type { CompiledHeaderOps } from '../../../src/snapshot/route-entry.ts'
import type { HeaderOps, RewriteConfig } from '../../../src/config/types.ts'
import { TargetState } from '../../../src/upstream/target-state.ts'
import type { Pool } from 'undici'

function headerOps(rules: Partial<HeaderOps>): HeaderOps {
  return { set: {}, add: {}, remove: [], ...rules }
}

function compiledOps(rules: Partial<HeaderOps>): CompiledHeaderOps {
  const ops = compileHeaderOps(headerOps(rules))
  assert.ok(ops !== null, 'the rules compile to something')
  return ops
}

function rewriteConfig(rules: Partial<RewriteConfig>): RewriteConfig {
  return { stripPrefix: null, addPrefix: null, regex: null, host: null, ...rules }
}

void describe('compileHeaderOps', () => {
  void test('is null without rules and for empty rules', () => {
    assert.equal(compileHeaderOps(null), null)
    assert.equal(compileHeaderOps(headerOps({})), null)
  })

  void test('lower-cases removed names', () => {
    const ops = compiledOps({ remove: ['X-Secret', 'COOKIE'] })
    assert.deepEqual([...ops.remove].sort(), ['cookie', 'x-secret'])
    assert.deepEqual(ops.append, [])
  })

  void test('set names are removed first (they replace) and appended with their value', () => {
    const ops = compiledOps({ set: { 'X-Tenant': 'a' } })
    assert.deepEqual([...ops.remove], ['x-tenant'])
    assert.deepEqual(ops.append, ['X-Tenant', 'a'])
  })

  void test('add names are appended without removing anything', () => {
    const ops = compiledOps({ add: { Vary: 'Origin' } })
    assert.equal(ops.remove.size, 0)
    assert.deepEqual(ops.append, ['Vary', 'Origin'])
  })

  void test('appends all set pairs, in config order, before all add pairs', () => {
    const ops = compiledOps({
      add: { 'X-A': '1', 'X-B': '2' },
      set: { 'X-S': '3', 'X-T': '4' },
      remove: ['x-r'],
    })
    assert.deepEqual(ops.append, ['X-S', '3', 'X-T', '4', 'X-A', '1', 'X-B', '2'])
    assert.deepEqual([...ops.remove].sort(), ['x-r', 'x-s', 'x-t'])
  })
})

void describe('compileRewrite', () => {
  void test('is null without a rewrite and for one that changes nothing', () => {
    assert.equal(compileRewrite(null), null)
    assert.equal(compileRewrite(rewriteConfig({})), null)
  })

  void test('trims trailing slashes from the prefixes', () => {
    const compiled = compileRewrite(rewriteConfig({ stripPrefix: '/api//', addPrefix: '/v2/' }))
    assert.ok(compiled !== null)
    assert.equal(compiled.stripPrefix, '/api')
    assert.equal(compiled.addPrefix, '/v2')
  })

  void test('compiles the regex once and keeps its replacement', () => {
    const compiled = compileRewrite(rewriteConfig({ regex: ['^/u/(\\d+)$', '/users/$1'] }))
    assert.ok(compiled?.regex instanceof RegExp)
    assert.equal(compiled.regex.test('/u/12'), true)
    assert.equal(compiled.regex.test('/u/x'), false)
    // No g/y flag: the one RegExp is shared by every request, so it must keep no lastIndex.
    assert.equal(compiled.regex.flags, '')
    assert.equal(compiled.replacement, '/users/$1')
    assert.equal(compiled.stripPrefix, null)
    assert.equal(compiled.addPrefix, null)
  })

  void test('a host-only rewrite is kept, with no path stages', () => {
    const compiled = compileRewrite(rewriteConfig({ host: 'backend.internal' }))
    assert.deepEqual(compiled, {
      stripPrefix: null,
      regex: null,
      replacement: '',
      addPrefix: null,
      host: 'backend.internal',
    })
  })
})

void describe('compileRedirect', () => {
  void test('a location without placeholders is one literal part', () => {
    assert.deepEqual(compileRedirect('https://example.com/'), ['https://example.com/'])
  })

  void test('splits literal text around each placeholder, in order', () => {
    assert.deepEqual(compileRedirect('https://{host}/new{path}?from=old&{query}'), [
      'https://',
      { placeholder: 'host' },
      '/new',
      { placeholder: 'path' },
      '?from=old&',
      { placeholder: 'query' },
    ])
  })

  void test('adjacent placeholders give no empty literal between them', () => {
    assert.deepEqual(compileRedirect('{host}{uri}'), [
      { placeholder: 'host' },
      { placeholder: 'uri' },
    ])
  })

  void test('unknown braces stay literal text', () => {
    assert.deepEqual(compileRedirect('/a/{id}/{path}'), ['/a/{id}/', { placeholder: 'path' }])
  })

  void test('an empty location has no parts', () => {
    assert.deepEqual(compileRedirect(''), [])
  })
})

void describe('TargetRef', () => {
  void test('reads in-flight count and availability live from the shared target state', () => {
    const state = new TargetState('users', 'http://127.0.0.1:9001')
    const ref = new TargetRef(3, state, {} as Pool)
    assert.equal(ref.key, 'http://127.0.0.1:9001')
    assert.equal(ref.weight, 3)
    state.inFlight = 2
    state.healthy = false
    assert.equal(ref.inFlight, 2)
    assert.equal(ref.available, false)
  })
})
