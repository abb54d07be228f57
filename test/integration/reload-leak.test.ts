/**
 * Leak test (SPEC §4.3, STYLE §H): a retired snapshot becomes collectable after its last
 * request, and the registry closes the pool of an upstream the reload removed. node:test runs
 * without `--expose-gc`, so the probe runs in a child (`node --expose-gc`,
 * test/helpers/reload-leak-child.ts) that reports what it saw as one JSON line.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { LeakReport } from '../helpers/reload-leak-child.ts'

const CHILD = fileURLToPath(new URL('../helpers/reload-leak-child.js', import.meta.url))
const CHILD_TIMEOUT_MS = 15_000

/** Runs the probe; rejects with its stderr when it fails or outlives CHILD_TIMEOUT_MS. */
function runProbe(env: Record<string, string> = {}): Promise<LeakReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--enable-source-maps', CHILD], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const last = out.trim().split('\n').pop() ?? ''
      if (code !== 0 || !last.startsWith('{')) {
        reject(new Error(`probe exited (code ${code}, signal ${signal}): ${err}${out}`))
        return
      }
      resolve(JSON.parse(last) as LeakReport)
    })
  })
}

describe('reload leaks', { timeout: 2 * CHILD_TIMEOUT_MS + 5000 }, () => {
  test('a retired snapshot is kept while a request runs on it and collected after', async () => {
    const r = await runProbe()
    assert.equal(r.applied, true, 'the reload was applied')
    assert.equal(r.swapped, true, 'new requests get the new snapshot')
    assert.equal(r.aliveInFlight, true, 'the in-flight request keeps its snapshot alive')
    assert.equal(r.slowStatus, 200, 'the in-flight request completes on the old config')
    assert.equal(r.slowBody, 'slow-done')
    assert.equal(r.poolsBefore, 2)
    assert.equal(r.poolsInFlight, 2, "the removed upstream's pool stays while it is in use")
    assert.equal(r.poolsAfter, 1, "the removed upstream's pool is released after the request")
    assert.equal(r.collected, true, 'the retired snapshot is collectable after its last request')
  })

  test('the probe sees a leak: a strong reference to the retired snapshot keeps it', async () => {
    // Negative control: what the first test would see if something (a holder that remembered
    // retired snapshots, a cache, a closure) kept the old snapshot reachable.
    const r = await runProbe({ LEAK_CONTROL: '1' })
    assert.equal(r.applied, true)
    assert.equal(r.poolsAfter, 1, 'leases are released even when the object itself leaks')
    assert.equal(r.collected, false)
  })
})
