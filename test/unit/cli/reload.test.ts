import { test } from 'node:test'
import assert from 'node:assert/strict'
import { report } from '../../../src/cli/reload.ts'

function capture() {
  const out: string[] = []
  const err: string[] = []
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err }
}

test('hitless reload reports every outcome of POST /reload', () => {
  const canary = capture()
  const code = report(
    200,
    { outcome: 'canary', version: 'c'.repeat(12), stable: 's'.repeat(12) },
    canary.io,
  )
  assert.equal(code, 0)
  assert.match(canary.out[0] ?? '', /^canary: version c{12} runs beside s{12} \(a staged roll-out/)
  const applied = capture()
  assert.equal(report(200, { outcome: 'applied', version: 'v2', previous: 'v1' }, applied.io), 0)
  assert.equal(applied.out[0], 'applied: version v2 (was v1)')
  const odd = capture()
  assert.equal(report(500, { outcome: 'what' }, odd.io), 1)
  assert.match(odd.err[0] ?? '', /unexpected answer \(HTTP 500\)/)
})
