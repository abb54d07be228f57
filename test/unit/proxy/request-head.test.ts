/**
 * readRequestHead: the one pass over rawHeaders that refuses what a proxy must not forward
 * (unknown HTTP versions, smuggling-prone Transfer-Encoding, bad or repeated Host) and collects
 * what the proxy needs (host, body framing, request id, X-Forwarded-For, Connection).
 */

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { hostnameOf, readRequestHead } from '../../../src/proxy/request-head.ts'
import type { RequestHead } from '../../../src/proxy/request-head.ts'
import { ErrorCode } from '../../../src/errors.ts'

/** An IncomingMessage-shaped object: only what readRequestHead reads. */
function fakeReq(rawHeaders: readonly string[], version = '1.1'): IncomingMessage {
  const [major, minor] = version.split('.').map(Number)
  return {
    httpVersion: version,
    httpVersionMajor: major,
    httpVersionMinor: minor,
    rawHeaders: [...rawHeaders],
    url: '/',
  } as unknown as IncomingMessage
}

function headOf(rawHeaders: readonly string[], version = '1.1'): RequestHead {
  const head = readRequestHead(fakeReq(rawHeaders, version))
  assert.notEqual(typeof head, 'string', `expected a head, got ${JSON.stringify(head)}`)
  return head as RequestHead
}

void describe('readRequestHead', () => {
  void describe('HTTP version', () => {
    for (const version of ['1.1', '1.0']) {
      void test(`accepts HTTP/${version}`, () => {
        assert.equal(headOf(['Host', 'a.example'], version).host, 'a.example')
      })
    }

    for (const version of ['2.0', '0.9', '1.2', '3.0']) {
      void test(`answers HTTP/${version} with 505 (version not supported)`, () => {
        const result = readRequestHead(fakeReq(['Host', 'a.example'], version))
        assert.equal(result, ErrorCode.VERSION_NOT_SUPPORTED)
      })
    }
  })

  void describe('Transfer-Encoding', () => {
    void test('accepts chunked on HTTP/1.1 and marks the request as having a body', () => {
      const head = headOf(['Host', 'a', 'Transfer-Encoding', 'chunked'])
      assert.equal(head.hasBody, true)
      assert.equal(head.contentLength, -1)
    })

    void test('accepts chunked in any letter case and with surrounding spaces', () => {
      assert.equal(headOf(['Host', 'a', 'transfer-encoding', ' Chunked ']).hasBody, true)
    })

    const refused: readonly (readonly [string, readonly string[], string])[] = [
      ['a coding other than chunked', ['Transfer-Encoding', 'gzip'], '1.1'],
      ['chunked after another coding', ['Transfer-Encoding', 'gzip, chunked'], '1.1'],
      [
        'chunked twice in two fields',
        ['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked'],
        '1.1',
      ],
      [
        'chunked plus a second field',
        ['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'x'],
        '1.1',
      ],
      ['any Transfer-Encoding on HTTP/1.0', ['Transfer-Encoding', 'chunked'], '1.0'],
    ]
    for (const [why, te, version] of refused) {
      void test(`refuses ${why} with 400`, () => {
        const result = readRequestHead(fakeReq(['Host', 'a', ...te], version))
        assert.equal(result, ErrorCode.BAD_REQUEST)
      })
    }
  })

  void describe('Host', () => {
    void test('refuses an HTTP/1.1 request without Host', () => {
      assert.equal(readRequestHead(fakeReq(['Accept', '*/*'])), ErrorCode.BAD_REQUEST)
    })

    void test('accepts an HTTP/1.0 request without Host, with an empty host and hostname', () => {
      const head = headOf(['Accept', '*/*'], '1.0')
      assert.equal(head.host, '')
      assert.equal(head.hostname, '')
    })

    void test('refuses two Host fields, even with equal values', () => {
      const result = readRequestHead(fakeReq(['Host', 'a.example', 'host', 'a.example']))
      assert.equal(result, ErrorCode.BAD_REQUEST)
    })

    const valid = [
      'a.example',
      'a.example:8080',
      '127.0.0.1:80',
      '[::1]',
      '[::1]:8443',
      'xn--bcher-kva.example',
    ]
    for (const host of valid) {
      void test(`accepts Host ${host}`, () => {
        assert.equal(headOf(['Host', host]).host, host)
      })
    }

    const invalid: readonly (readonly [string, string])[] = [
      ['', 'an empty value'],
      ['a example', 'a space'],
      ['user@a.example', 'userinfo'],
      ['a.example/path', 'a path'],
      ['a.example:123456', 'a six-digit port'],
      ['[::1', 'an unclosed IP literal'],
      ['a.example\t', 'a tab'],
    ]
    for (const [host, why] of invalid) {
      void test(`refuses a Host with ${why} (${JSON.stringify(host)})`, () => {
        assert.equal(readRequestHead(fakeReq(['Host', host])), ErrorCode.BAD_REQUEST)
      })
    }

    void test('derives the routing hostname: lower-cased, port stripped', () => {
      const head = headOf(['HOST', 'API.Example.COM:8080'])
      assert.equal(head.host, 'API.Example.COM:8080')
      assert.equal(head.hostname, 'api.example.com')
    })
  })

  void describe('request id', () => {
    void test('keeps a well-formed client X-Request-Id', () => {
      const id = 'abc-123_x.y:z@w/v+u=t'
      assert.equal(headOf(['Host', 'a', 'X-Request-Id', id]).requestId, id)
    })

    void test('keeps an id of 128 characters and drops one of 129', () => {
      assert.equal(
        headOf(['Host', 'a', 'x-request-id', 'a'.repeat(128)]).requestId,
        'a'.repeat(128),
      )
      assert.equal(headOf(['Host', 'a', 'x-request-id', 'a'.repeat(129)]).requestId, null)
    })

    const unsafe = ['', 'has space', 'semi;colon', 'quote"d', 'new\nline', 'caf\u00e9', '{json}']
    for (const id of unsafe) {
      void test(`drops an unsafe X-Request-Id ${JSON.stringify(id)}`, () => {
        assert.equal(headOf(['Host', 'a', 'X-Request-Id', id]).requestId, null)
      })
    }

    void test('is null when the client sends none', () => {
      assert.equal(headOf(['Host', 'a']).requestId, null)
    })
  })

  void describe('X-Forwarded-For and Connection', () => {
    void test('joins repeated X-Forwarded-For fields in order with ", "', () => {
      const head = headOf([
        'Host',
        'a',
        'X-Forwarded-For',
        '10.0.0.1, 10.0.0.2',
        'x-forwarded-for',
        '10.0.0.3',
      ])
      assert.equal(head.forwardedFor, '10.0.0.1, 10.0.0.2, 10.0.0.3')
    })

    void test('has no X-Forwarded-For when the client sent none', () => {
      assert.equal(headOf(['Host', 'a']).forwardedFor, null)
    })

    void test('joins repeated Connection fields and is undefined without one', () => {
      assert.equal(
        headOf(['Host', 'a', 'Connection', 'keep-alive', 'connection', 'x-a']).connection,
        'keep-alive, x-a',
      )
      assert.equal(headOf(['Host', 'a']).connection, undefined)
    })
  })

  void describe('body framing', () => {
    void test('reads Content-Length and has a body when it is positive', () => {
      const head = headOf(['Host', 'a', 'Content-Length', '42'])
      assert.equal(head.contentLength, 42)
      assert.equal(head.hasBody, true)
    })

    void test('has no body with Content-Length 0 or without framing headers', () => {
      assert.equal(headOf(['Host', 'a', 'Content-Length', '0']).hasBody, false)
      const bare = headOf(['Host', 'a'])
      assert.equal(bare.hasBody, false)
      assert.equal(bare.contentLength, -1)
    })
  })
})

void describe('hostnameOf', () => {
  const cases: readonly (readonly [string, string])[] = [
    ['example.com', 'example.com'],
    ['Example.COM:8080', 'example.com'],
    ['127.0.0.1:80', '127.0.0.1'],
    ['[::1]:80', '[::1]'],
    ['[::1]', '[::1]'],
    ['[FE80::1]:443', '[fe80::1]'],
    ['', ''],
  ]
  for (const [host, expected] of cases) {
    void test(`${JSON.stringify(host)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(hostnameOf(host), expected)
    })
  }
})
