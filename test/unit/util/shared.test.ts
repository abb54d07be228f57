/**
 * SharedMap: one value per key while any lease holds it, disposed of with the last release;
 * a lease releases once; after clear(), an old lease never disposes of a newer value.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SharedMap } from '../../../src/util/shared.ts'

test('shared while leased, disposed with the last release, once', () => {
  const disposed: string[] = []
  let created = 0
  const map = new SharedMap<string>((v) => disposed.push(v))
  const a = map.acquire('k', () => `v${++created}`)
  const b = map.acquire('k', () => `v${++created}`)
  assert.equal(a.value, 'v1')
  assert.equal(b.value, 'v1')
  a.release()
  a.release()
  assert.deepEqual(disposed, [])
  assert.equal(map.size, 1)
  b.release()
  assert.deepEqual(disposed, ['v1'])
  assert.equal(map.size, 0)
  assert.equal(map.acquire('k', () => `v${++created}`).value, 'v2', 'a new value after disposal')
})

test('after clear(), releasing an old lease leaves the newer value alone', () => {
  const disposed: string[] = []
  const map = new SharedMap<string>((v) => disposed.push(v))
  const old = map.acquire('k', () => 'old')
  assert.deepEqual(map.clear(), ['old'])
  const fresh = map.acquire('k', () => 'new')
  old.release()
  assert.deepEqual(map.values(), ['new'])
  assert.deepEqual(disposed, ['old'])
  fresh.release()
  assert.deepEqual(disposed, ['old', 'new'])
})
