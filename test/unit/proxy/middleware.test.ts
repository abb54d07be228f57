import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  HeaderList,
  RequestHeaderEdits,
  ResponseGate,
  runChain,
} from '../../../src/proxy/middleware.ts'

describe('runChain', () => {
  test('onion order around the terminal', async () => {
    const seen: string[] = []
    const layer = (n: string) => async (_c: unknown, next: () => Promise<void>) => {
      seen.push(`${n}>`)
      await next()
      seen.push(`<${n}`)
    }
    await runChain([layer('a'), layer('b')], {}, () => {
      seen.push('terminal')
      return Promise.resolve()
    })
    assert.deepEqual(seen, ['a>', 'b>', 'terminal', '<b', '<a'])
  })

  test('next() twice rejects; a synchronous throw rejects', async () => {
    const twice = async (_c: unknown, next: () => Promise<void>) => {
      await next()
      await next()
    }
    await assert.rejects(
      runChain([twice], {}, () => Promise.resolve()),
      /more than once/,
    )
    const thrower = () => {
      throw new Error('sync')
    }
    await assert.rejects(
      runChain([thrower], {}, () => Promise.resolve()),
      /sync/,
    )
  })
})

describe('headers', () => {
  test('HeaderList: get, set, append, delete, case-insensitive', () => {
    const list = new HeaderList(['Content-Type', 'text/plain', 'Set-Cookie', 'a=1'])
    assert.equal(list.get('content-type'), 'text/plain')
    list.append('set-cookie', 'b=2')
    list.set('CONTENT-TYPE', 'application/json')
    assert.deepEqual(list.raw, [
      'Set-Cookie',
      'a=1',
      'set-cookie',
      'b=2',
      'content-type',
      'application/json',
    ])
    list.delete('Set-Cookie')
    assert.deepEqual(list.raw, ['content-type', 'application/json'])
    assert.equal(list.get('x'), undefined)
  })

  test('RequestHeaderEdits: read through, edit, apply', () => {
    const edits = new RequestHeaderEdits({ 'x-a': '1', 'x-list': ['a', 'b'] })
    assert.equal(edits.get('X-A'), '1')
    assert.equal(edits.get('x-list'), 'a, b')
    const untouched = ['x-a', '1']
    edits.applyTo(untouched)
    assert.deepEqual(untouched, ['x-a', '1'])
    edits.set('X-New', 'n')
    edits.delete('x-a')
    assert.equal(edits.get('x-a'), undefined)
    assert.equal(edits.get('x-new'), 'n')
    const upstream = ['X-A', '1', 'host', 'h']
    edits.applyTo(upstream)
    assert.deepEqual(upstream, ['host', 'h', 'x-new', 'n'])
  })
})

describe('ResponseGate', () => {
  test('a held head waits for release, with the edits made meanwhile', async () => {
    const gate = new ResponseGate()
    const written: [number, string[]][] = []
    const held = gate.held()
    gate.hold(200, ['a', '1'], (s, h) => written.push([s, h]))
    await held
    assert.equal(gate.head?.status, 200)
    const head = gate.head
    assert.ok(head)
    head.status = 201
    head.headers.set('b', '2')
    assert.deepEqual(written, [])
    gate.release()
    assert.deepEqual(written, [[201, ['a', '1', 'b', '2']]])
    gate.release()
    assert.equal(written.length, 1, 'written once')
  })

  test('a head handed over after the chain finished is written at once; a dropped gate writes nothing', async () => {
    const late = new ResponseGate()
    late.release()
    const written: number[] = []
    late.hold(204, [], (s) => written.push(s))
    assert.deepEqual(written, [204])
    const dropped = new ResponseGate()
    const waiting = dropped.held()
    dropped.drop()
    await waiting
    dropped.hold(200, [], (s) => written.push(s))
    dropped.release()
    assert.deepEqual(written, [204])
    assert.equal(dropped.upstream, null)
  })
})
